"""Build and run a cocotb bench against one generated Verilog top, on Icarus or Verilator.

For the block-level benches that do not use the generator harness (sim/harness.v): the AXI wrappers
(`sim/axi_bench.py`, `sim/axi_engine_bench.py`).
"""
from pathlib import Path

from cocotb_tools.runner import get_results, get_runner

from .runner import compile_bench


def run_bench(sources, toplevel, test_module, simulator, directory, env=None, testcase=None):
    """Compile `sources` with `toplevel` on `simulator` in `directory`, run the cocotb module `test_module` (only
    its test `testcase`, if given); returns True when every cocotb test passed (logs in directory/build.log and
    directory/sim.log)."""
    directory = Path(directory).resolve()
    compile_bench(simulator, directory, sources, toplevel)
    results = get_runner(simulator).test(test_module=test_module, testcase=testcase, hdl_toplevel=toplevel,
                                         hdl_toplevel_lang="verilog", build_dir=directory / "build", test_dir=directory,
                                         extra_env={key: str(value) for key, value in (env or {}).items()},
                                         log_file=directory / "sim.log")
    tests, failed = get_results(results)
    return tests > 0 and failed == 0
