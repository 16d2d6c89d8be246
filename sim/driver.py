"""The cocotb test that plays a scenario on the harness (sim/harness.v).

Python only loads transfer budgets and pulses controls, on falling clock edges; the harness makes the clock,
the random ready and the dump. The scenario comes as JSON in the file named by PEZO_SCENARIO.
"""
import json
import os

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, with_timeout

from .scenario import ALWAYS, Scenario

CLOCK_NS = 10


async def pulse(dut, name, cycles=1):
    await FallingEdge(dut.clk)
    getattr(dut, name).value = 1
    await ClockCycles(dut.clk, cycles, rising=False)
    getattr(dut, name).value = 0


async def take(dut, count, chance, length):
    """Let `count` words transfer and wait until they have (a pending `next` may first skip up to `length`)."""
    if count == 0:
        return
    await FallingEdge(dut.clk)
    dut.budget_in.value = count
    dut.budget_load.value = 1
    await FallingEdge(dut.clk)
    dut.budget_load.value = 0
    cycles = 8 * (count * ALWAYS // chance + length + 64)
    await with_timeout(RisingEdge(dut.idle), cycles * CLOCK_NS, "ns")


@cocotb.test()
async def play(dut):
    with open(os.environ["PEZO_SCENARIO"]) as file:
        scenario = Scenario.from_dict(json.load(file))
    chance, longest = ALWAYS, max([scenario.length] + [op[1] for op in scenario.operations if op[0] == "length"])
    for name, value in [("rst", 1), ("length", scenario.length), ("ready_seed", scenario.ready_seed),
                        ("ready_chance", chance), ("next", 0), ("replay", 0), ("hop", 0), ("budget_in", 0),
                        ("budget_load", 0), ("flush", 0)]:
        getattr(dut, name).value = value
    await pulse(dut, "rst", cycles=2)
    for op in scenario.operations:
        if op[0] == "take":
            await take(dut, op[1], chance, longest)
        elif op[0] in ("chance", "length", "hop"):
            chance = op[1] if op[0] == "chance" else chance
            await FallingEdge(dut.clk)
            getattr(dut, {"chance": "ready_chance"}.get(op[0], op[0])).value = op[1]
        else:
            await pulse(dut, {"reset": "rst"}.get(op[0], op[0]), cycles=2 if op[0] == "reset" else 1)
            if dut.busy.value:  # a skip, or a reloading replay: controls are only taken once it is carried out
                await FallingEdge(dut.busy)
    await pulse(dut, "flush")
    await ClockCycles(dut.clk, 2)
