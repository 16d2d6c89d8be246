"""The ZO engine (docs/spec.md section 11): a perturbation generator and one EngineLane per lane, between the weight
memory and the compute elements.

Ports (Verilog names in brackets):

- `w` [w__payload, w__valid, w__ready]: weights in, `lanes` per beat (lane j in bits [j F, (j + 1) F), F = 32 for
  fp32, 16 for bf16), in the order of docs/spec.md section 9, the last beat padded;
- `perturbed` [perturbed__payload.values / .last, ...]: theta + s eps u out to the compute elements (mode 0: s = +1,
  mode 1: s = -1), `last` on a pass's last beat;
- `updated`: round(d theta - c u) out to the weight memory (mode 2);
- `mode`, `e` (eps = 2^-e, 0..63), `c` and `d` (fp32 bits, written by the host after the forward passes), `length`
  (words per perturbation, the generator's), and with spec.hop_bits the generator's `hop`; `busy` while the
  generator moves on or reloads;
- `restart` in: replay the current perturbation now, taking `length` again (after the host changed it);
- `w_last` out: whether the weight beat `w` would meet is its pass's last (the generator word's `last` flag; valid
  while the generator offers a word), so that a wrapper can check a transfer's length (hw/axi_stream.py).

A beat is taken when a weight beat and a generator word are both offered and the pipeline can move (its last
stage is empty, or the stream it feeds takes its beat); results leave LATENCY (seven) beats later, in order. The
pass's last word makes the engine `replay` the perturbation after a perturb pass and move to the `next` one after
an update pass (one cycle after the last word is taken), so a ZO step is three passes with nothing for the host to
do but set `mode` between them (and c and d before the update). `mode` must stay constant during a pass.

Cost: the generator, `lanes` EngineLanes, two ScalarDecoders (the host's c and d, shared by the lanes), the
perturb modes' c and d beside them, and a few flip-flops of control.
"""
from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from pezo.golden.engine import FORMATS
from pezo.host.registers import MODES

from .engine_lane import LATENCY, SCALAR_FIELDS, EngineLane, ScalarDecoder, staged
from .generator import generator

PERTURB_PLUS, PERTURB_MINUS, UPDATE = MODES["perturb-plus"], MODES["perturb-minus"], MODES["update"]
"""The modes' codes, as the MODE register takes them."""
E_BITS = 6
"""Width of `e` (eps = 2^-e, e in 0..63)."""
ONE_SCALAR = SCALAR_FIELDS.const({"sign": 0, "significand": 1 << 23, "low": -23, "trailing": 23})
"""d = 1 as the lanes take it (engine_lane.SCALAR_FIELDS)."""


def weights_layout(fmt, lanes):
    return data.ArrayLayout(FORMATS[fmt].bits, lanes)


def result_layout(fmt, lanes):
    return data.StructLayout({"values": weights_layout(fmt, lanes), "last": 1})


def engine_signature(spec, fmt):
    """The engine's ports (see the module's docstring)."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is unknown: allowed {', '.join(FORMATS)}")
    return wiring.Signature({
        "w": In(stream.Signature(weights_layout(fmt, spec.lanes))),
        "perturbed": Out(stream.Signature(result_layout(fmt, spec.lanes))),
        "updated": Out(stream.Signature(result_layout(fmt, spec.lanes))),
        "mode": In(2), "e": In(E_BITS), "c": In(32), "d": In(32), "length": In(spec.length_bits),
        **({"hop": In(spec.hop_bits)} if spec.hop_bits else {}), "busy": Out(1), "restart": In(1),
        "w_last": Out(1),
    })


class Engine(wiring.Component):
    def __init__(self, spec, fmt):
        self.spec, self.fmt = spec, fmt
        super().__init__(engine_signature(spec, fmt))

    def elaborate(self, platform):
        m = Module()
        m.submodules.generator = source = generator(self.spec)
        word = source.o.payload

        # the pipeline: a valid flag, the mode and `last` beside the lanes' stages
        valid = [Signal(name=f"valid{stage}") for stage in range(1, LATENCY + 1)]
        modes = [Signal(2, name=f"mode{stage}") for stage in range(1, LATENCY + 1)]
        lasts = [Signal(name=f"last{stage}") for stage in range(1, LATENCY + 1)]
        output = Signal(result_layout(self.fmt, self.spec.lanes))
        updating = modes[-1] == UPDATE
        taken = Cat(self.perturbed.ready, self.updated.ready).bit_select(updating, 1)
        advance = ~valid[-1] | taken
        fire = self.w.valid & source.o.valid & advance
        m.d.comb += [self.w.ready.eq(source.o.valid & advance), source.o.ready.eq(self.w.valid & advance),
                     self.perturbed.valid.eq(valid[-1] & ~updating), self.updated.valid.eq(valid[-1] & updating),
                     self.perturbed.payload.eq(output), self.updated.payload.eq(output)]
        with m.If(advance):
            m.d.sync += [valid[0].eq(fire), modes[0].eq(self.mode), lasts[0].eq(word.last)]
            m.d.sync += [dst.eq(src) for dst, src in zip(valid[1:] + modes[1:] + lasts[1:],
                                                           valid[:-1] + modes[:-1] + lasts[:-1])]
        m.d.comb += output.last.eq(lasts[-1])

        # c and d: the host's, decoded once for every lane beside the beat entering the lanes; in perturb modes
        # c = -s 2^-e and d = 1 (docs/spec.md section 11), given decoded (a power of two needs no decoder) and
        # chosen by the mode of the beat the lanes' second stage holds, after the decoders
        update = self.mode == UPDATE
        m.submodules.c = c = ScalarDecoder()
        m.submodules.d = d = ScalarDecoder()
        m.d.comb += [c.bits.eq(self.c), d.bits.eq(self.d), c.advance.eq(advance), d.advance.eq(advance)]
        power = Signal(SCALAR_FIELDS)
        m.d.comb += [power.sign.eq(self.mode == PERTURB_PLUS), power.significand.eq(1 << 23),
                     power.low.eq(-23 - self.e), power.trailing.eq(23)]
        power = staged(m, advance, power, "perturb_c")
        c_scalar, d_scalar = Signal(SCALAR_FIELDS), Signal(SCALAR_FIELDS)
        hosts = modes[0] == UPDATE                      # the mode of the beat in the lanes' second stage
        m.d.comb += [c_scalar.eq(Mux(hosts, c.scalar, power)), d_scalar.eq(Mux(hosts, d.scalar, ONE_SCALAR))]
        for lane in range(self.spec.lanes):
            unit = EngineLane(self.fmt, self.spec.mantissa_bits, self.spec.exponent_bits)
            m.submodules[f"lane{lane}"] = unit
            m.d.comb += [unit.theta.eq(self.w.payload[lane]), unit.m.eq(word.mantissas[lane]),
                         unit.k.eq(word.exponent), unit.c.eq(c_scalar), unit.d.eq(d_scalar),
                         unit.advance.eq(advance),
                         output.values[lane].eq(unit.result)]

        # the generator: the pass's last word replays the perturbation (perturb) or moves on (update)
        ended, ended_update = Signal(), Signal()
        m.d.sync += [ended.eq(fire & word.last), ended_update.eq(update)]
        if self.spec.hop_bits:
            m.d.comb += source.hop.eq(self.hop)
        m.d.comb += [source.length.eq(self.length), source.replay.eq((ended & ~ended_update) | self.restart),
                     source.next.eq(ended & ended_update), self.busy.eq(source.busy), self.w_last.eq(word.last)]
        return m
