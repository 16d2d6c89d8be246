"""Where an engine lane's LUTs go: each mapped LUT counted for the pipeline stage whose registers it feeds.

The lane (hw/engine_lane.py) is synthesised alone, as `pezo synth estimate --blocks engine_lane_fp32` does, and
its mapped netlist walked. A register's stage is its depth in registers from the lane's inputs (theta, m and k
enter stage 1, c and d stage 2: a register is one stage past the deepest register feeding it), so no register
names are needed, and every stage must be found. Each LUT is counted for the stages of the registers it reaches
forward through LUTs, multiplexers, carries and DSPs (Yosys maps the products to DSPs without their internal
registers, the products' registers staying flip-flops): one stage, or two where its output is shared. DSPs are
counted the same way.

    python bench/lane_breakdown.py [--preset pool-4095x12] [--formats fp32 bf16] [--json FILE]
"""
import argparse
import collections
import functools
import json
import sys

from pezo.files import write_file
from pezo.golden.spec import PAPER_DEFAULTS
from pezo.hw.verilog import emit
from pezo.synth.designs import blocks
from pezo.synth.estimate import _kind, mapped, wiring

STAGES = ["decode theta; the leading and trailing zeros of its significand and of |m|",
          "shift the zeros out; the two products (DSPs) and their trailing zeros",
          "order the products; their exponents' gap",
          "align the smaller (shifter, sticky bit) and add",
          "the sum's leading and trailing zeros; the shift's amount",
          "shift the sum into its rounding window; guard and sticky bits",
          "round to nearest even, encode"]
"""The lane's pipeline stages (hw/engine_lane.py), by the depth of the registers that end them."""
CLOCKED = ("ff",)


def breakdown(netlist, top):
    """({stage: LUTs}, {stage: DSPs}) of a mapped lane, stages numbered from 1."""
    cells = netlist["modules"][top]["cells"]
    driver, readers = wiring(cells)

    def inputs(name):
        cell = cells[name]
        return [bit for port, bits in cell["connections"].items() if cell["port_directions"].get(port) == "input"
                for bit in bits if bit in driver]

    @functools.cache
    def feeding(name):
        """The clocked cells whose outputs reach `name`'s inputs through combinational cells."""
        found = set()
        for bit in inputs(name):
            source = driver[bit]
            found |= {source} if _kind(cells[source]["type"]) in CLOCKED else feeding(source)
        return frozenset(found)

    @functools.cache
    def stage(name):
        return 1 + max((stage(source) for source in feeding(name) if source != name), default=0)

    @functools.cache
    def reached(name):
        """The stages of the clocked cells that `name`'s outputs reach through combinational cells."""
        found = set()
        for port, bits in cells[name]["connections"].items():
            if cells[name]["port_directions"].get(port) == "output":
                for reader in (reader for bit in bits for reader in readers.get(bit, ())):
                    found |= {stage(reader)} if _kind(cells[reader]["type"]) in CLOCKED else reached(reader)
        return frozenset(found)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20 * len(cells) + 1000))
    luts, dsps = collections.Counter(), collections.Counter()
    for name, cell in cells.items():
        kind = _kind(cell["type"])
        for found in reached(name) if kind in ("lut", "dsp") else ():
            (luts if kind == "lut" else dsps)[found] += 1
    return luts, dsps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="pool-4095x12", choices=sorted(PAPER_DEFAULTS))
    parser.add_argument("--formats", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--json", help="also write the counts as JSON here")
    args = parser.parse_args()
    spec = PAPER_DEFAULTS[args.preset]
    results = []
    for fmt in args.formats:
        (name, build), = blocks(spec, [f"engine_lane_{fmt}"]).items()
        stats, netlist = mapped(name, emit(build(), name))
        luts, dsps = breakdown(netlist, name)
        if sorted(set(luts) | set(dsps)) != list(range(1, len(STAGES) + 1)):
            raise SystemExit(f"{name}: register depths {sorted(set(luts) | set(dsps))} are not the lane's "
                             f"{len(STAGES)} stages")
        total = sum(count for cell, count in stats["design"]["num_cells_by_type"].items() if _kind(cell) == "lut")
        results.append({"design": name, "luts": total, "by_stage": {STAGES[k - 1]: luts[k] for k in sorted(luts)},
                        "dsps": {STAGES[k - 1]: dsps[k] for k in sorted(dsps)}})
        print(f"{name}: {total:,} LUTs ({sum(luts.values()) - total:,} of them feed two stages and are counted "
              f"for both)")
        for number, stage in enumerate(STAGES, 1):
            print(f"  {luts[number]:6,} LUTs  {dsps[number]} DSPs  stage {number}: {stage}")
    if args.json:
        write_file(args.json, json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
