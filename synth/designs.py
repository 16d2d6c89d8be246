"""The designs `pezo synth` measures: a generator and each of its blocks alone (the default ones: the top, its
strategy's blocks (hw/generator.py GENERATORS) and the sequencer), and the Gaussian baseline."""
from pezo.hw.axi_lite import RegisterBlock
from pezo.hw.axi_stream import registers
from pezo.hw.engine import Engine
from pezo.hw.engine_lane import EngineLane, ScalarDecoder
from pezo.hw.export import default_name
from pezo.hw.gaussian import GaussianLanes
from pezo.hw.generator import GENERATORS, check_buildable, generator
from pezo.hw.sequencer import Sequencer

ON_REQUEST = ("engine_fp32", "engine_bf16", "engine_lane_fp32", "engine_lane_bf16", "scalar_decoder",
              "registers_engine", "registers_generator")
"""Priced when asked for: the ZO engine (hw/engine.py) around the generator, with fp32 or bf16 weights, one of its
lanes alone (hw/engine_lane.py, for the generator's mantissa and exponent widths), the decoder of c or d that
its lanes share (two per engine), and the AXI4-Lite register block
of the engine's IP or the generator's (hw/axi_lite.py, for the generator's widths)."""


def blocks(spec, names=None):
    """{module name: component factory} for the generator of `spec` and its blocks (the default ones, or those in
    `names`, which may also name an engine)."""
    check_buildable(spec)
    own = {"top": lambda: generator(spec), **GENERATORS[spec.strategy].blocks(spec),
           "sequencer": lambda: Sequencer(spec.length_bits, spec.reload, spec.hop_bits)}
    factories = {
        **own,
        "engine_fp32": lambda: Engine(spec, "fp32"),
        "engine_bf16": lambda: Engine(spec, "bf16"),
        "engine_lane_fp32": lambda: EngineLane("fp32", spec.mantissa_bits, spec.exponent_bits),
        "engine_lane_bf16": lambda: EngineLane("bf16", spec.mantissa_bits, spec.exponent_bits),
        "scalar_decoder": ScalarDecoder,
        "registers_engine": lambda: RegisterBlock(registers(spec, "fp32")),
        "registers_generator": lambda: RegisterBlock(registers(spec)),
    }
    allowed = tuple(own) + ON_REQUEST
    for name in names or ():
        if name not in allowed:
            raise ValueError(f"block {name!r} does not exist for strategy {spec.strategy}: allowed {list(allowed)}")
    return {design_name(spec, name): factories[name] for name in names or own}


def design_name(spec, block):
    """The module name a block of `spec` is estimated under: the generator's name, with `_<block>` but for the top."""
    return default_name(spec) + ("" if block == "top" else f"_{block}")


def gaussian_baseline(lanes=1024, seed=1):
    """{module name: factory} of the MeZO baseline as Table 6 prices it: `lanes` Gaussian lanes without replay (the
    clt strategy's `lanes_noreplay` block, under Table 6's name)."""
    if not 1 <= lanes <= 65536:
        raise ValueError(f"lanes={lanes} is out of range: allowed 1..65536")
    return {f"pezo_gaussian_x{lanes}": lambda: GaussianLanes(lanes, seed, replay=False)}
