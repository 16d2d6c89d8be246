"""Block-wise ZO-SGD (`zo-sgd-block`, ZO-Bench section 6 and Table 6): the trainable weights are cut into blocks and
ZO-SGD's two-point estimate is taken block by block.

- every block each step (the default, what ZO-Bench ran): every step estimates every block in order, two forward passes
  each (2B per step). Every block's u starts at the step's position, as ZO-Bench reseeds its generator with the
  step's seed for each block, so a step draws only as many values as its largest block. With `coordinate` (ZO-Bench's
  default) block b is updated right after its own estimate, so the passes of block b + 1 see it updated
  (block-coordinate descent); without, every block is estimated at theta_t and all are updated at the end.
- `cycle`: step t estimates and updates block t mod B only (2 passes, d / B values per step on average).

Blocks (`blocks`): `layer`, the parameters sharing the path up to their first numeric component (`model.layers.3`,
ZO-Bench's transformer-block level), any other parameter grouped with those of its own module (embeddings, the
final norm); `module`, the parameters of one module (a linear layer, a norm: ZO-Bench's linear level).
"""
import math

from .methods import ESTIMATOR, QUERIES
from .zo import Argument, Estimate, ZOOptimizer, register


def blocks_of(named, level):
    """Indices of consecutive parameters of one block: grouped by the path up to the first numeric component
    (`layer`; other parameters by module) or by module (`module`)."""
    blocks, last = [], None
    for index, (name, _, _) in enumerate(named):
        parts = name.split(".")
        numbered = next((i for i, part in enumerate(parts) if part.isdigit()), None)
        key = ".".join(parts[:numbered + 1] if level == "layer" and numbered is not None else parts[:-1])
        if key == last and blocks:
            blocks[-1].append(index)
        else:
            blocks.append([index])
        last = key
    return blocks


@register
class BlockZO(ZOOptimizer):
    name = "zo-sgd-block"
    title = "ZO-SGD-Block"
    paper = "ZO-Bench section 6, Table 6 (block-wise ZO)"
    reproduces = ("ZO-Bench's `module_wise_perturbation` at its defaults (transformer-block level, "
                  "`coordinate_perturbation`): every block per step, the step's seed restarted per block")
    differences = ("ZO-Bench finds blocks by OPT module names (OPT only); pezo by parameter names, the same "
                   "blocks on OPT, and also trains parameters in none of ZO-Bench's blocks (OPT-350m's "
                   "project_in/out). ZO-Bench logs the mean of the blocks' L+, pezo the first block's "
                   "(L+ + L-) / 2")
    arguments = {"queries": QUERIES, "estimator": ESTIMATOR,
                 "blocks": Argument("layer", "what one block is", choices=("layer", "module")),
                 "cycle": Argument(False, "one block per step in turn, instead of every block each step",
                                   choices=(False, True)),
                 "coordinate": Argument(True, "every block each step: update each block right after its estimate",
                                        choices=(True, False))}

    def __init__(self, params, source, **options):
        super().__init__(params, source, **options)
        if not self.args["cycle"] and (self.args["queries"] != 1 or self.args["estimator"] != "two-sided"):
            raise ValueError(f"method zo-sgd-block takes queries 1 and the two-sided estimator with every block each "
                             f"step (ZO-Bench's block-wise estimate), not queries {self.args['queries']}, estimator "
                             f"{self.args['estimator']}: allowed with cycle true")
        self.blocks = blocks_of(self.named, self.args["blocks"])
        self.largest = max(sum(self.named[i][1].numel() for i in block) for block in self.blocks)
        self.current = 0

    def active(self):
        index = self.steps % len(self.blocks) if self.args["cycle"] else self.current
        return [self.named[i] for i in self.blocks[index]]

    def shares_queries(self):
        return self.args["cycle"]

    def estimate(self, closure):
        """Every block each step: per block, L+- = L(theta +- eps u_b), u_b the block's values from the step's
        position; a non-finite loss ends the step there (blocks already updated keep their update)."""
        if self.args["cycle"]:
            return super().estimate(closure)
        position = self.source.position
        self.source.next(self.largest)
        plus, minus, queries = [], [], []
        for self.current in range(len(self.blocks)):
            loss_plus, loss_minus = self.two_point(closure, position)
            plus.append(loss_plus.item())
            minus.append(loss_minus.item())
            queries.append((position, ((loss_plus - loss_minus) / (2 * self.eps)).item()))
            if not math.isfinite(queries[-1][1]):       # finite iff both losses are
                break
            if self.args["coordinate"]:
                self.update_block(queries[-1])
        return Estimate((plus[0] + minus[0]) / 2, {"loss_plus": plus, "loss_minus": minus}, queries)

    def update(self, estimate, closure):
        if self.args["cycle"]:
            return super().update(estimate, closure)
        if not self.args["coordinate"]:
            for self.current, query in enumerate(estimate.queries):
                self.update_block(query)

    def update_block(self, query):
        """ZO-SGD's rule on the current block with its own query."""
        for (name, param, group), grad in self.gradients([query]):
            self.apply(name, param, group, grad)

    @classmethod
    def demands(cls, args):
        base = super().demands(args)
        if args["cycle"]:
            return {**base, "random": f"{args['queries']} d / B (B blocks)"}
        return {**base, "forwards": "2 B (B blocks)", "random": "the largest block's",
                "replays": "4 per block"}
