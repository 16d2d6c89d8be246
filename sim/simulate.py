"""One simulation of a configuration as the command line runs it: the ZO pattern over a number of values, in a work
folder named after the configuration (`out/sim/<label>-<digest>-<simulator>`, or a numbered sibling of it where
another pezo holds that one)."""
import hashlib
import math
from pathlib import Path

from pezo.files import write_file
from pezo.hw.generator import check_buildable


def run_simulation(spec, simulator, values, workdir, length=None, waves=False, saif=None, exported=None):
    """Build and run `values` values of the ZO pattern on one simulator in the work folder `workdir`, claimed for
    this run alone; `exported`: a build's files to simulate as they are; `saif`: a file that receives the run's
    switching activity (Verilator). Returns (Simulation, Result, scenario)."""
    from .runner import build, workspace           # cocotb: only where a simulation runs
    from .scenario import zo_steps
    check_buildable(spec)
    words = math.ceil(values / spec.lanes)
    length = length or default_length(spec, words)
    with workspace(workdir) as folder:
        simulation = build(spec, simulator, folder, waves=waves, saif=saif is not None, exported=exported)
        scenario = zo_steps(length, words)
        result = simulation.run(scenario)
        if saif is not None and result.passed:
            write_file(saif, simulation.saif_path().read_bytes())
        return simulation, result, scenario


def default_length(spec, words):
    """Words per perturbation unless given: all of them, at most 4096 and at most the length input's range."""
    return max(1, min(4096, words, (1 << spec.length_bits) - 1))


def work_name(spec, files=None):
    """<configuration>-<digest of the spec and of `files` ({name: bytes})>: a work folder's name."""
    identity = spec.to_json() + "".join(sorted(f"{name}:{hashlib.sha256(data).hexdigest()}"
                                               for name, data in (files or {}).items()))
    return f"{spec.label}-{hashlib.sha256(identity.encode()).hexdigest()[:8]}"


def default_workdirs(spec, simulator, exported=None):
    """out/sim/<work_name>-<simulator>, then numbered siblings of it for runs that find it in use by another
    pezo sim."""
    base = Path("out") / "sim" / f"{work_name(spec, exported[1] if exported else None)}-{simulator}"
    yield base
    for number in range(1, 1000):
        yield base.with_name(f"{base.name}-{number}")
