"""Vivado non-project flows for the ZCU102: TCL scripts and XDC constraints, written into a ready-to-run folder.

- `demo/`: the board demonstrator (synth/demo.py) through synthesis, placement, routing and a bitstream, with the
  ZCU102 pins and 125 MHz clock from synth/zcu102.py;
- `ooc/<config>/`: each generator alone, out of context, at 500 and 700 MHz (the paper's clock rates).

Every run does synth_design, then applies the timing exceptions Amaranth marks on its synchronisers' flip-flops
(the demonstrator's reset synchroniser: a false path to their asynchronous preset, as Amaranth's own Vivado flow
does; `SYNCHRONISER_CONSTRAINTS`), then opt_design, place_design, route_design, report_utilization, report_timing_summary and
report_power; where a SAIF from `pezo sim --saif` is given, read_saif first, so power comes from simulated
switching (the harness's instance `pezo_harness/dut` is the generator: the OOC top, and `dut` in the demonstrator).
`run.sh` runs them all with `vivado -mode batch`; reports land in each run's `reports/`.
"""
import shutil
import subprocess
from pathlib import Path

from pezo.files import check_replaceable, replacing
from pezo.hw.export import default_name
from pezo.hw.generator import generator
from pezo.hw.verilog import emit

from .demo import Demonstrator
from .zcu102 import ZCU102Platform

PART = "xczu9eg-ffvb1156-2-e"
OOC_MHZ = (500, 700)
HARNESS_PATH = "pezo_harness"
SYNCHRONISER_CONSTRAINTS = """\
# timing exceptions of the synchronisers' flip-flops, which Amaranth marks with amaranth.vivado.* attributes
proc pezo_constrain_synchronisers {} {
    foreach cell [get_cells -quiet -hier -filter {amaranth.vivado.false_path == "TRUE"}] {
        set_false_path -to $cell
    }
    foreach cell [get_cells -quiet -hier -filter {amaranth.vivado.false_path_pre == "TRUE"}] {
        set_false_path -to [get_pins -of_objects $cell -filter {REF_PIN_NAME == PRE}]
    }
    foreach cell [get_cells -quiet -hier -filter {amaranth.vivado.max_delay != ""}] {
        set clocks [get_clocks -quiet -of_objects [all_fanin -flat -startpoints_only [get_pins $cell/D]]]
        if {[llength $clocks]} {
            set_max_delay -datapath_only -from $clocks -to $cell [get_property amaranth.vivado.max_delay $cell]
        }
    }
    foreach cell [get_cells -quiet -hier -filter {amaranth.vivado.max_delay_pre != ""}] {
        set_max_delay -to [get_pins -of_objects $cell -filter {REF_PIN_NAME == PRE}] \\
            [get_property amaranth.vivado.max_delay_pre $cell]
    }
}
pezo_constrain_synchronisers"""


def run_tcl(name, top, verilog_file, xdc_file, saif=None, strip_path=None, out_of_context=False):
    """A non-project TCL flow for one run named `name`; SAIF activity is read from `saif` (relative to the run
    folder) with `strip_path` removed."""
    mode = " -mode out_of_context" if out_of_context else ""
    lines = [
        f"# pezo: Vivado non-project flow for {top} ({'out of context' if out_of_context else 'full board'}), "
        f"part {PART}",
        f"# run from this folder: vivado -mode batch -nojournal -log {name}.log -source {name}.tcl",
        "file mkdir reports",
        f"read_verilog {verilog_file}",
        f"read_xdc{mode} {xdc_file}",
        f"synth_design -top {top} -part {PART}{mode}",
        SYNCHRONISER_CONSTRAINTS,
        f"report_utilization -file reports/{name}_utilization_synth.rpt",
        "opt_design",
        "place_design",
        "route_design",
        f"write_checkpoint -force {name}_routed.dcp",
        f"report_utilization -file reports/{name}_utilization.rpt",
        f"report_utilization -hierarchical -file reports/{name}_utilization_hierarchical.rpt",
        f"report_timing_summary -max_paths 10 -file reports/{name}_timing_summary.rpt",
    ]
    if saif:
        lines.append(f"read_saif -strip_path {strip_path} {saif}")
    lines.append(f"report_power -file reports/{name}_power.rpt")
    if not out_of_context:
        lines.append(f"write_bitstream -force {name}.bit")
    return "\n".join(lines) + "\n"


def ooc_xdc(mhz):
    """The clock constraint of an out-of-context run: `clk` at `mhz` MHz."""
    return (f"# pezo: out-of-context clock, {mhz} MHz\n"
            f"create_clock -name clk -period {1000 / mhz:.3f} [get_ports clk]\n")


def write_flow(out, specs, demo_spec, saifs=None, force=False):
    """Write the ready-to-run folder `out` for the generators `specs` ({label: spec}) and the demonstrator of
    `demo_spec`; `saifs` maps labels (and "demo") to SAIF files, copied in. Returns the folder as a Path."""
    out, saifs = Path(out), dict(saifs or {})
    unknown = sorted(set(saifs) - set(specs) - {"demo"})
    if unknown:
        raise ValueError(f"SAIF given for {unknown}: allowed {sorted(specs) + ['demo']}")
    check_replaceable(out, force)
    files, runs = {}, []
    for label, spec in specs.items():
        top = default_name(spec)
        files[f"ooc/{label}/{top}.v"] = emit(generator(spec), top)
        saif = None
        if label in saifs:
            files[f"ooc/{label}/{label}.saif"] = Path(saifs[label]).read_text()
            saif = f"{label}.saif"
        for mhz in OOC_MHZ:
            name = f"{top}_{mhz}mhz"
            files[f"ooc/{label}/{name}.xdc"] = ooc_xdc(mhz)
            files[f"ooc/{label}/{name}.tcl"] = run_tcl(name, top, f"{top}.v", f"{name}.xdc", saif,
                                                       f"{HARNESS_PATH}/dut", out_of_context=True)
            runs.append((f"ooc/{label}", name))
    plan = ZCU102Platform().prepare(Demonstrator(demo_spec), name="pezo_demo", emit_src=False)
    files["demo/pezo_demo.v"] = plan.files["pezo_demo.v"]
    files["demo/pezo_demo.xdc"] = plan.files["pezo_demo.xdc"]
    demo_saif = None
    if "demo" in saifs:
        files["demo/demo.saif"] = Path(saifs["demo"]).read_text()
        demo_saif = "demo.saif"
    files["demo/pezo_demo.tcl"] = run_tcl("pezo_demo", "pezo_demo", "pezo_demo.v", "pezo_demo.xdc", demo_saif,
                                          HARNESS_PATH)
    runs.append(("demo", "pezo_demo"))
    script = ["#!/usr/bin/env bash", "# pezo: every Vivado run of this folder, one after the other (needs vivado on PATH)",
              "set -euo pipefail", 'cd "$(dirname "$0")"']
    script += [f"(cd {folder} && vivado -mode batch -nojournal -log {name}.log -source {name}.tcl)"
               for folder, name in runs]
    files["run.sh"] = "\n".join(script) + "\n"
    with replacing(out, force) as staging:
        for path, text in files.items():
            (staging / path).parent.mkdir(parents=True, exist_ok=True)
            (staging / path).write_text(text)
        (staging / "run.sh").chmod(0o755)
    return out


def run_flow(folder):
    """Run `folder/run.sh` when vivado is on PATH; returns (Vivado's exit status, or None where there is no
    Vivado to run, and a message)."""
    if shutil.which("vivado") is None:
        return None, (f"Vivado is not on PATH, so nothing was run and there are no Vivado reports. The folder is "
                       f"ready: cd {folder} && bash run.sh")
    done = subprocess.run(["bash", str(Path(folder) / "run.sh")])
    if done.returncode:
        return done.returncode, f"vivado failed (exit {done.returncode}): see the .log files under {folder}"
    return 0, f"Vivado finished: reports under {folder}/*/reports and {folder}/ooc/*/reports"
