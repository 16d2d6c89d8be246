"""The cocotb test that runs passes on the engine harness (sim/engine_harness.v).

The plan comes as JSON in the file named by PEZO_ENGINE_PLAN: the words per perturbation, e, the chances of a
weight beat being offered and of an output beat being taken, and the passes ({mode, c, d}: c and d as fp32
bits). Python only sets each pass's inputs and pulses start, on falling clock edges; the harness does the rest.
With PEZO_ENGINE_HOST set to `module:Class` (pezo/hil.py's Host for `pezo hil`), an object of that class, made
from the plan, chooses each pass's c and d from the previous passes' output instead: the simulation names its
host, it does not import one.
"""
import importlib
import json
import os

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout

ALWAYS = 1 << 16


async def run_pass(dut, plan, beats, mode, c, d):
    """One pass of `beats` beats in `mode`, waiting until every output beat is out and the generator is idle."""
    await FallingEdge(dut.clk)
    dut.mode.value, dut.c.value, dut.d.value = mode, c, d
    dut.beats_in.value = beats
    dut.seed.value = plan["seed"]
    plan["seed"] = (plan["seed"] * 1103515245 + 12345) % (1 << 31) or 1
    dut.start.value = 1
    await FallingEdge(dut.clk)
    dut.start.value = 0
    chance = min(plan["w_chance"], plan["out_chance"])
    cycles = 8 * (beats * ALWAYS // chance + 64)
    if not dut.idle.value:
        await with_timeout(RisingEdge(dut.idle), cycles * 10, "ns")
    await ClockCycles(dut.clk, 2, rising=False)
    if dut.busy.value:
        await with_timeout(FallingEdge(dut.busy), 8 * (beats + 64) * 10, "ns")


async def start(dut, plan):
    for name, value in [("rst", 1), ("mode", 0), ("e", plan["e"]), ("c", 0), ("d", 0), ("length", plan["length"]),
                        ("hop", plan.get("hop", 0)),
                        ("beats_in", 0), ("start", 0), ("w_chance", plan["w_chance"]),
                        ("out_chance", plan["out_chance"]), ("seed", plan["seed"]), ("flush", 0)]:
        getattr(dut, name).value = value
    await ClockCycles(dut.clk, 2, rising=False)
    dut.rst.value = 0


async def flush(dut):
    await FallingEdge(dut.clk)
    dut.flush.value = 1
    await FallingEdge(dut.clk)
    dut.flush.value = 0


@cocotb.test()
async def passes(dut):
    """The plan's passes, in order."""
    with open(os.environ["PEZO_ENGINE_PLAN"]) as file:
        plan = json.load(file)
    await start(dut, plan)
    if os.environ.get("PEZO_ENGINE_HOST"):
        module, _, name = os.environ["PEZO_ENGINE_HOST"].partition(":")
        host = getattr(importlib.import_module(module), name)(plan)
        while (step := host.next_pass()) is not None:
            await run_pass(dut, plan, plan["beats"], *step)
            await flush(dut)
            host.passed()
    else:
        for item in plan["passes"]:
            await run_pass(dut, plan, plan["beats"], item["mode"], item["c"], item["d"])
    await flush(dut)
