"""The exported Verilog equals the golden model bit for bit, on Icarus and on Verilator.

Each configuration is compiled once per simulator (in the short form, CI's, Verilator compiles VERILATOR_SHORT's
only) and runs one scenario that joins random control traffic (partial and full replays, next after partial and
full reads, resets mid-stream, ready from always to rare) with the ZO pattern (several perturbations in a row, so
leftover shifting) and, where named, whole stream periods.
"""
import dataclasses

import pytest

from pezo.golden import CltSpec, OtfSpec, PoolSpec
from pezo.sim.runner import SIMULATORS, build, check
from pezo.sim.scenario import ALWAYS, Scenario, mixed, zo_steps


@dataclasses.dataclass(frozen=True)
class Case:
    spec: object
    length: int
    mixed_words: int
    zo_words: int
    full_periods: int = 0
    hop: int = 0

    def scenario(self):
        scenario = mixed(self.length, self.mixed_words, seed=7) + zo_steps(self.length, self.zo_words, seed=3)
        if self.full_periods:
            period = self.spec.period_words
            scenario += Scenario(period, (("chance", ALWAYS),) + (("take", period), ("next",)) * self.full_periods)
        if self.hop:
            scenario = Scenario(scenario.length, (("hop", self.hop),) + scenario.operations, scenario.ready_seed)
        return scenario


CASES = {
    # the paper's defaults: at least 10^5 values each; 31x8 also runs a whole period (7905 words) in one piece
    "otf-31x8": Case(OtfSpec(generators=31, width=8), 64, 600, 2000, full_periods=1),
    "otf-31x14": Case(OtfSpec(generators=31, width=14, seed=4321), 100, 600, 2700),
    "pool-4095x12": Case(PoolSpec(size=4095, bits=12), 1000, 10000, 90000),
    # every other knob: n in {3, 7, 63}, b in {4, 12, 16}, N in {255, 65535}, several lanes per word
    "otf-3x4": Case(OtfSpec(generators=3, width=4, seed=9), 7, 300, 200, full_periods=4),
    "otf-7x12": Case(OtfSpec(generators=7, width=12, seed=1000), 50, 500, 800, full_periods=1),
    "otf-63x16": Case(OtfSpec(generators=63, width=16, seed=77), 40, 400, 600),
    "pool-4095x12-l5": Case(PoolSpec(size=4095, bits=12, lanes=5, seed=11), 300, 2000, 5000, full_periods=2),
    "pool-255x8-l15": Case(PoolSpec(size=255, bits=8, lanes=15, seed=3), 5, 300, 300, full_periods=3),
    "pool-65535x16-l3": Case(PoolSpec(size=65535, bits=16, lanes=3, seed=99), 2000, 4000, 24000, full_periods=1),
    # the reloaded array (replay through the shift path): the paper's 31x8, and small and wide ones
    "otf-31x8-reload": Case(OtfSpec(generators=31, width=8, reload=1), 64, 600, 2000, full_periods=1),
    "otf-3x4-reload": Case(OtfSpec(generators=3, width=4, seed=9, reload=1), 7, 300, 200, full_periods=4),
    "otf-63x16-reload": Case(OtfSpec(generators=63, width=16, seed=77, reload=1), 40, 400, 600),
    # the variants of docs/spec.md sections 4b, 6a, 6b and 7 (hop), combined: a leap-ahead array (a four-tap
    # polynomial, and reloaded with a hop input), and a balanced, slipping pool with a hop input over a whole
    # period of D^2 words
    "otf-15x12-leap11": Case(OtfSpec(generators=15, width=12, seed=321, leap=11), 100, 400, 1200),
    "otf-7x8-leap8-reload-hop4": Case(OtfSpec(generators=7, width=8, leap=8, reload=1, hop_bits=4), 50, 500, 800,
                                      full_periods=1, hop=11),
    "pool-255x8-l3-balanced-slip-hop3": Case(PoolSpec(size=255, bits=8, lanes=3, seed=5, balanced=1, slip=1,
                                                      hop_bits=3), 30, 2000, 4000, full_periods=1, hop=5),
    # the MeZO baseline's Gaussian lanes (docs/spec.md section 6c), replayed through the same sequencer, with a hop
    "clt-3-hop3": Case(CltSpec(lanes=3, seed=12345, hop_bits=3), 50, 1500, 1500, hop=6),
}
DEFAULTS = ("otf-31x8", "otf-31x14", "pool-4095x12")


BARE_PATH = "otf-3x4"
"""The case built with a PATH that holds no `python` (only the system's tools), as when `.venv/bin/pezo` is called
without its environment activated: the build must run on this interpreter."""


VERILATOR_SHORT = DEFAULTS + (BARE_PATH, "otf-7x8-leap8-reload-hop4", "pool-255x8-l3-balanced-slip-hop3", "clt-3-hop3")
"""The cases the short form runs on Verilator too (every case runs on Icarus): the paper's defaults, the bare PATH
and the cases that combine every variant; the long form (`pytest --long`) runs every case on both."""


def case_params():
    return [pytest.param((name, simulator), id=f"{name}-{simulator}",
                         marks=[pytest.mark.long] if simulator == "verilator" and name not in VERILATOR_SHORT else [])
            for name in CASES for simulator in SIMULATORS]


@pytest.fixture(scope="module", params=case_params())
def simulation(request, tmp_path_factory):
    name, simulator = request.param
    with pytest.MonkeyPatch.context() as patch:
        if name == BARE_PATH:
            patch.setenv("PATH", "/usr/bin:/bin")
            patch.delenv("MAKEFLAGS", raising=False)
        return name, build(CASES[name].spec, simulator, tmp_path_factory.mktemp(f"{name}-{simulator}"))


def test_bit_exact(simulation):
    name, sim = simulation
    scenario = CASES[name].scenario()
    result = sim.run(scenario)
    assert result.passed, result.mismatch
    assert result.words == scenario.words
    if name in DEFAULTS:
        assert result.values >= 100_000


def test_a_flipped_bit_is_caught(simulation):
    """The comparison can fail: one bit flipped anywhere in the dump is reported."""
    name, sim = simulation
    scenario = Scenario(CASES[name].length, (("take", CASES[name].length), ("replay",), ("take", 3)))
    assert sim.run(scenario, name="flip").passed
    lines = (sim.directory / "flip" / "words.hex").read_text().splitlines()
    word = len(lines) // 2
    flipped = lines[:word] + [f"{int(lines[word], 16) ^ (1 << (word % 7)):0{len(lines[word])}x}"] + lines[word + 1:]
    words, mismatch = check(sim.spec, sim.exp_bits, scenario, "\n".join(flipped))
    assert words == len(lines) and mismatch is not None and f"word {word}" in mismatch
