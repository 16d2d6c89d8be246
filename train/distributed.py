"""ZO training over torch.distributed: data parallel, perturbation parallel, or both on a 2-D grid of ranks.

ZO needs no gradient traffic: every rank regenerates the perturbations from the stream position, so ranks only
agree on loss scalars.

- **Data parallel** (`dp` ranks per query): the global batch is split into `dp` contiguous shards; each rank sums
  its examples' losses (float64) and an all-gather of the (sum, count) pairs gives every rank the same mean, summed
  in rank order. Every forward pass of every method goes through this closure, so every rank takes the same step.
- **Perturbation parallel** (`pp` ranks per batch): of a step's q queries, rank r of a data-parallel column
  evaluates queries r, r + pp, ...; an all-gather of their losses gives every rank all q, and each applies all q
  updates by regenerating u_i from its position. A rank still makes the in-place passes of the queries it does
  not evaluate (regenerating u, no forward pass), so its weights round exactly as one process's do.

Ranks are laid out as rank = pp_rank * dp + dp_rank. Rank 0 alone reads and writes the run folder: a resumed
run's config and checkpoint and the dev-selected weights reach the other ranks by broadcast (`from_writer`), so
the ranks of several machines need no shared folder. Per step, collectives carry only the scalars above;
`Layout.sent` counts the bytes this rank contributes to them (an all-gather over n ranks delivers them to each of
the n - 1 others).

Backends: gloo, with the scalars on the CPU, or NCCL, with them on the rank's GPU (`backend`: NCCL where the
trainer's device is CUDA, gloo otherwise).

A plain process (not launched by torchrun) is `SOLO`: the one place of a world of 1, with MeZO's numbers (the
classifier's mean loss) and nothing about ranks in its records. Both kinds of place answer the trainer alike:
`loss`, `predictions`, `describe`, `traffic` and `agreement`.
"""
import dataclasses
import os
import pickle

import torch
import torch.distributed as dist

from pezo import errors


class Solo:
    """A plain process's place: the whole run, no collectives, no ranks recorded."""
    rank, world, dp, pp, sent, writer, ranked = 0, 1, 1, 1, 0, True, False

    def describe(self):
        return {}

    def barrier(self):
        pass

    def loss(self, classifier, texts, labels):
        """The batch's mean loss, as MeZO computes it."""
        return classifier.loss((texts, labels))

    def predictions(self, classifier, texts):
        return classifier.predict(texts)

    def traffic(self, sent):
        """What a record adds about collectives: nothing."""
        return {}

    def agreement(self, params):
        """What the summary adds about the ranks' weights: nothing."""
        return {}


SOLO = Solo()


@dataclasses.dataclass
class Layout:
    """This process's place in the grid: `world` = `dp` x `pp` ranks; the groups are torch.distributed groups
    (None in a single process, where `shards` local shards stand in for `dp` ranks: how the tests check that
    ranks compute one process's numbers)."""
    rank: int = 0
    world: int = 1
    dp: int = 1
    pp: int = 1
    dp_group: object = None
    pp_group: object = None
    shards: int = 1
    sent: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def dp_rank(self):
        return self.rank % self.dp

    @property
    def pp_rank(self):
        return self.rank // self.dp

    @property
    def writer(self):
        """Whether this rank writes the run's files."""
        return self.rank == 0

    ranked = True

    def describe(self):
        return {"world": self.world, "data_parallel": self.dp, "perturbation_parallel": self.pp}

    def loss(self, classifier, texts, labels):
        return batch_loss(classifier, texts, labels, self)

    def predictions(self, classifier, texts):
        return predictions(classifier, texts, self)

    def traffic(self, sent):
        """What a record adds: the bytes this rank sent since `sent` was its count."""
        return {"sent_bytes": self.sent - sent}

    def agreement(self, params):
        """What the summary adds: whether every rank holds the same weights."""
        return {"ranks_agree": ranks_agree(params, self)}

    def gather(self, values, group, size):
        """All-gather a small float64 vector over `group` ([size, len(values)] on every rank, on the CPU)."""
        tensor = torch.as_tensor(values, dtype=torch.float64)
        if size == 1:
            return tensor[None]
        self.sent += tensor.numel() * tensor.element_size()
        tensor = tensor.to(self.device)
        out = [torch.empty_like(tensor) for _ in range(size)]
        dist.all_gather(out, tensor, group=group)
        return torch.stack(out).cpu()

    def barrier(self):
        if self.world > 1:
            dist.barrier()


def launched():
    """Whether this process was started by torchrun (or another launcher that sets the torch.distributed env)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


BACKENDS = ("auto", "gloo", "nccl")


def backend(name, device):
    """The torch.distributed backend for `name` (auto: nccl for a CUDA `device` where torch has NCCL, gloo
    otherwise); a ValueError where NCCL cannot run."""
    if name not in BACKENDS:
        raise ValueError(f"--backend {name} is unknown: allowed {', '.join(BACKENDS)}")
    if name == "auto":
        return "nccl" if device.type == "cuda" and dist.is_nccl_available() else "gloo"
    if name == "nccl" and device.type != "cuda":
        raise ValueError(f"--backend nccl runs collectives on GPUs: it needs --device cuda (also on --resume), "
                         f"not {device}")
    if name == "nccl" and not dist.is_nccl_available():
        raise ValueError("--backend nccl: this torch has no NCCL (a CPU build): use --backend gloo")
    return name


def start(pp=1, device="cpu", backend_name="auto"):
    """Join the process group torchrun set up, with the backend of `backend_name` for the trainer's `device`
    (see rank_device), and split it into a grid of `pp` perturbation-parallel rows."""
    world = int(os.environ["WORLD_SIZE"])
    if pp < 1 or world % pp:
        raise ValueError(f"--perturbation-parallel {pp} does not divide the {world} ranks: allowed a divisor of "
                         f"{world}")
    check_device(device)
    numbered = torch.device(device).index is not None
    device = rank_device(device)
    check_device(str(device))                   # the local rank's GPU exists
    chosen = backend(backend_name, device)
    local_ranks = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if chosen == "nccl" and numbered and local_ranks > 1:
        raise ValueError(f"--device {device} puts all {local_ranks} ranks of this machine on one GPU, which NCCL "
                         f"cannot run: give --device cuda (a GPU per rank) or --backend gloo")
    if chosen == "nccl":
        torch.cuda.set_device(device)           # broadcast_object_list's buffers go to the current GPU
    if not dist.is_initialized():
        dist.init_process_group(chosen)
    rank, dp = dist.get_rank(), world // pp
    layout = Layout(rank=rank, world=world, dp=dp, pp=pp, device=device if chosen == "nccl" else torch.device("cpu"))
    for row in range(pp):                           # every rank creates every group, in the same order
        group = dist.new_group([row * dp + column for column in range(dp)])
        if row == layout.pp_rank:
            layout.dp_group = group
    for column in range(dp):
        group = dist.new_group([row * dp + column for row in range(pp)])
        if column == layout.dp_rank:
            layout.pp_group = group
    return layout


def lost(error):
    """Whether `error`, raised on a rank, says that another rank has stopped or cannot be reached: torch's
    DistError, or the RuntimeError that gloo's transport raises (its message names gloo)."""
    return isinstance(error, dist.DistError) or (isinstance(error, RuntimeError) and "gloo" in str(error).lower())


def check_device(name):
    """Refuse (ValueError, one line) a device name torch does not know or this machine does not have."""
    try:
        if torch.device(name).type == "meta":
            raise RuntimeError("the meta device holds no values to train")
        torch.empty(1, device=name)
    except (RuntimeError, AssertionError) as error:
        raise ValueError(f"device {name!r} cannot be used here ({errors.reason(error, 120)}): allowed cpu, or a device this "
                         f"machine and torch build have (cuda, cuda:1, ...)") from None


def rank_device(name):
    """The device of this rank for the device `name`: an unnumbered "cuda" means the GPU of this rank's local rank
    (torchrun's LOCAL_RANK), so the ranks of a machine share out its GPUs; anything else is used as given."""
    device = torch.device(name)
    if device.type == "cuda" and device.index is None and launched():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def from_writer(layout, compute):
    """`compute()` on rank 0 and its result on every rank (one broadcast of it pickled); an exception it raises is
    raised on every rank. For what only rank 0 may read: the run folder's config, checkpoint and weights."""
    if layout.world == 1:
        return compute()
    box = [None]
    if layout.writer:
        try:
            box = [(compute(), None)]
        except Exception as error:          # every rank stops with rank 0's error
            box = [(None, error if _picklable(error) else RuntimeError(str(error)))]
    dist.broadcast_object_list(box, src=0)
    value, error = box[0]
    if error is not None:
        raise error
    return value


def _picklable(value):
    try:
        pickle.dumps(value)
        return True
    except Exception:
        return False


def first_local(layout, load):
    """`load()` on the first rank of each machine, then on the others (so that they find the model cache it
    builds instead of all building it at once)."""
    if layout.world == 1:
        return load()
    first = int(os.environ.get("LOCAL_RANK", "0")) == 0
    loaded = load() if first else None
    layout.barrier()
    return loaded if first else load()


def stop():
    if dist.is_initialized():
        dist.destroy_process_group()


def shard(items, parts, index):
    """The `index`-th of `parts` contiguous, nearly equal shards of `items`."""
    size, extra = divmod(len(items), parts)
    begin = index * size + min(index, extra)
    return items[begin:begin + size + (index < extra)]


def batch_loss(classifier, texts, labels, layout):
    """The mean loss of a global batch: each data-parallel shard's float64 sum of per-example losses, gathered and
    summed in shard order (the same numbers in one process with `layout.shards` local shards). Float64 sums of a
    batch of float32 losses are exact while the smallest loss is within about 2^(29 - log2 batch) of the largest,
    so the order never matters."""
    parts = max(layout.dp, layout.shards)
    rows = []
    for index in [layout.dp_rank] if layout.dp > 1 else range(parts):
        shard_texts, shard_labels = shard(texts, parts, index), shard(labels, parts, index)
        losses = classifier.losses((shard_texts, shard_labels)) if shard_texts else torch.zeros(0)
        rows.append(layout.gather([losses.double().sum().item(), len(shard_texts)], layout.dp_group, layout.dp))
    table = torch.cat(rows)
    total = 0.0
    for value in table[:, 0].tolist():         # in shard order
        total += value
    return torch.tensor(total / table[:, 1].sum().item(), dtype=torch.float64)


def predictions(classifier, texts, layout):
    """Every example's predicted class, each rank predicting a contiguous shard; the shards, padded with -1 to the
    longest, are gathered (exact integers in float64) and joined in rank order."""
    if layout.world == 1:
        return classifier.predict(texts)
    mine = shard(texts, layout.world, layout.rank)
    found = classifier.predict(mine).tolist() if mine else []
    longest = -(-len(texts) // layout.world)
    table = layout.gather(found + [-1] * (longest - len(found)), None, layout.world)
    return torch.tensor([int(value) for value in table.flatten().tolist() if value >= 0], dtype=torch.int64)


def accuracy(predictions, labels):
    """The share of `predictions` equal to `labels`: an exact count over the examples, rounded once (float64)."""
    return int((predictions == torch.as_tensor(labels)).sum()) / len(labels)


def share_queries(optimizer, layout):
    """The QueryShare for `optimizer`, whose estimate must be the q-query one with at least `layout.pp` queries."""
    queries = optimizer.query_count()
    if not optimizer.shares_queries():
        raise ValueError(f"--perturbation-parallel {layout.pp} needs a method with the q-query estimate (such as "
                         f"zo-sgd --queries {layout.pp}); method {optimizer.name} estimates otherwise")
    if queries < layout.pp:
        raise ValueError(f"--perturbation-parallel {layout.pp} needs at least {layout.pp} queries per step; method "
                         f"{optimizer.name} takes {queries} (give --queries {layout.pp} or more)")
    return QueryShare(layout)


class QueryShare:
    """Perturbation parallelism for ZOOptimizer.estimate: which queries this rank evaluates, and the all-gather
    that gives every rank the losses of all of them."""

    def __init__(self, layout):
        self.layout = layout

    def mine(self, query):
        return query % self.layout.pp == self.layout.pp_rank

    def gather(self, losses):
        """losses: per query, a tuple of float64 loss tensors ((L+, L-) or (L+,)) where this rank evaluated it,
        else None; returns all of them, the same on every rank."""
        layout = self.layout
        width = len(next(pair for pair in losses if pair is not None))
        local = []
        for pair in losses:
            local.extend([value.item() for value in pair] if pair is not None else [0.0] * width)
        table = layout.gather(local, layout.pp_group, layout.pp).view(layout.pp, len(losses), width)
        return [tuple(table[query % layout.pp, query]) for query in range(len(losses))]


def weights_digest(params):
    """sha256 of the trainable weights' bytes, as 32 integers (gathered to check that every rank holds the same)."""
    import hashlib
    digest = hashlib.sha256()
    for param in params:
        digest.update(param.detach().cpu().contiguous().numpy().tobytes())
    return list(digest.digest())


def ranks_agree(params, layout):
    """Whether every rank's trainable weights are bit-identical (one all-gather of a sha256, as 32 float64)."""
    table = layout.gather(weights_digest(params), None, layout.world)
    return bool((table == table[0]).all())
