"""The AXI4-Stream wrapper: packets received by cocotbext-axi's AxiStreamSink under random backpressure equal the
golden perturbations bit for bit (with replays and moves to the next perturbation), on both simulators; and the
FuseSoC core file describes the generated IP."""
import re

import pytest
import yaml

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


def test_ip_folder_and_core_file(tmp_path):
    spec = SPECS["otf-7x8"]
    top, tdata = write_ip(spec, tmp_path / "ip")
    assert top == "pezo_otf_7x8_axis" and tdata == 64  # 7 x 8 mantissa bits + 5 exponent bits, padded
    verilog = (tmp_path / "ip" / f"{top}.v").read_text()
    header = re.search(rf"module {top}\((.*?)\);", verilog, re.S).group(1)
    assert {name.strip() for name in header.split(",")} == {
        "aclk", "aresetn", "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast",
        "length", "next", "replay", "done", "busy"}
    assert re.search(r"output \[63:0\] m_axis_tdata;", verilog)
    core = (tmp_path / "ip" / f"{top}.core").read_text()
    assert core.startswith("CAPI=2:\n")
    description = yaml.safe_load(core)
    assert description["name"].startswith(f"pezo:perturb:{top}:")
    assert description["filesets"]["rtl"] == {"files": [f"{top}.v"], "file_type": "verilogSource"}
    assert description["targets"]["default"] == {"filesets": ["rtl"], "toplevel": top}
    with pytest.raises(FileExistsError, match="not empty"):
        write_ip(spec, tmp_path / "ip")
