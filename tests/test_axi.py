"""The AXI4-Stream wrapper: packets received by cocotbext-axi's AxiStreamSink under random backpressure equal the
golden perturbations bit for bit (with replays and moves to the next perturbation), on both simulators."""
import pytest

from pezo.golden import OtfSpec, PoolSpec, Stream
from pezo.hw.ip import write_ip
from pezo.sim.unit import run_bench

SPECS = {"otf-7x8": OtfSpec(generators=7, width=8, seed=5), "pool-255x8-l3": PoolSpec(size=255, bits=8, lanes=3)}
LENGTH, PLAN = 40, "rrnrnn"


def expected_packets(spec):
    """The words of each packet the plan receives, packed as tdata integers."""
    stream, packets, start = Stream(spec), [], 0
    m_bits, e_bits = spec.mantissa_bits, spec.exponent_bits
    for command in PLAN + ".":
        mantissas, exponents = stream(start, LENGTH)
        words = []
        for row, exponent in zip(mantissas.tolist(), exponents.tolist()):
            word = sum((value & ((1 << m_bits) - 1)) << (lane * m_bits) for lane, value in enumerate(row))
            words.append(word | (exponent & ((1 << e_bits) - 1)) << (spec.lanes * m_bits))
        packets.append(words)
        start += LENGTH if command == "n" else 0
    return packets


@pytest.mark.parametrize("name, simulator", [(name, "icarus") for name in sorted(SPECS)] + [("otf-7x8", "verilator")])
def test_packets_bit_exact(name, simulator, tmp_path):
    """Both strategies on Icarus; Verilator (a slower build) on the otf wrapper."""
    spec = SPECS[name]
    top, _ = write_ip(spec, tmp_path / "ip")
    dump = tmp_path / "packets.txt"
    assert run_bench([tmp_path / "ip" / f"{top}.v"], top, "pezo.sim.axi_bench", simulator, tmp_path / "run",
                     {"PEZO_LENGTH": LENGTH, "PEZO_PLAN": PLAN, "PEZO_DUMP": dump})
    got = [[int(word, 16) for word in line.split()] for line in dump.read_text().splitlines()]
    assert got == expected_packets(spec)
