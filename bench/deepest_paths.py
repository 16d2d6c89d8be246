"""The deepest LUT paths of a design, by the registers they end at: what sets `pezo synth estimate`'s LUT levels.

The design is synthesised as `pezo synth estimate` does it (synth/estimate.py `mapped`, not cached) and its
mapped netlist walked back from every flip-flop's inputs, counting levels as `lut_levels` does. Prints the
registers whose inputs are deepest (by name, one line per register, the deepest bit) and the deepest path, cell by
cell with a net each drives (not always the bit on the path). Paths that end at output ports or at DSP or BRAM
inputs are not walked, so the level printed can be below `lut_levels`'s where such a path is the deepest.

    python bench/deepest_paths.py --preset pool-4095x12 --lanes 1 --block engine_bf16 [--top 12]
"""
import argparse
import collections
import dataclasses

from pezo.golden.spec import PAPER_DEFAULTS
from pezo.hw.verilog import emit
from pezo.synth.designs import blocks
from pezo.synth.estimate import _kind, cell_levels, mapped, wiring


def walk(netlist, top):
    """({register name: its inputs' deepest level}, the deepest path as [(cell type, level, net name)])."""
    module = netlist["modules"][top]
    cells = module["cells"]
    names = {}
    for name, info in module["netnames"].items():
        for index, bit in enumerate(info["bits"]):
            if bit not in names or names[bit].startswith("$"):
                names[bit] = f"{name}[{index}]"
    driver, _ = wiring(cells)
    level = cell_levels(netlist, top)
    registers, ends = collections.Counter(), {}
    for name, cell in cells.items():
        if _kind(cell["type"]) != "ff":
            continue
        register = names.get(cell["connections"]["Q"][0], name).split("[")[0]
        inputs = [bit for port, bits in cell["connections"].items() if cell["port_directions"].get(port) == "input"
                  for bit in bits if bit in driver]
        for bit in inputs:
            if level(driver[bit])[0] > registers[register]:
                registers[register], ends[register] = level(driver[bit])[0], driver[bit]
    path, at = [], ends[max(registers, key=registers.get)] if registers else None
    while at is not None:
        depth, via = level(at)
        path.append((cells[at]["type"], depth, names.get(_outputs(cells[at])[0], at)))
        at = driver[via] if via is not None else None                # ends at the register it starts from
    return dict(registers), path


def _outputs(cell):
    return [bit for port, bits in cell["connections"].items() if cell["port_directions"].get(port) == "output"
            for bit in bits]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="pool-4095x12", choices=sorted(PAPER_DEFAULTS))
    parser.add_argument("--lanes", type=int, help="the generator's lanes per word (default: the preset's)")
    parser.add_argument("--block", default="engine_bf16")
    parser.add_argument("--top", type=int, default=12, help="registers to list")
    args = parser.parse_args()
    spec = PAPER_DEFAULTS[args.preset]
    if args.lanes:
        spec = dataclasses.replace(spec, lanes=args.lanes)
    (name, build), = blocks(spec, [args.block]).items()
    _, netlist = mapped(name, emit(build(), name))
    registers, path = walk(netlist, name)
    print(f"{name}: {max(registers.values(), default=0)} LUT levels; the deepest registers' inputs:")
    for register, depth in sorted(registers.items(), key=lambda item: -item[1])[:args.top]:
        print(f"  {depth:3d}  {register}")
    print("the deepest path, from its end back:")
    for kind, depth, net in path:
        print(f"  {depth:3d}  {kind:8s} {net}")


if __name__ == "__main__":
    main()
