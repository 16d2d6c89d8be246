"""cocotb bench for the Gaussian baseline (hw/gaussian.py): random ready, every transferred payload dumped.

Environment: PEZO_WORDS (words to take), PEZO_READY_SEED (seed of the random ready), PEZO_DUMP (output file, one
hex payload per line).
"""
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge


@cocotb.test()
async def dump(dut):
    words, chance = int(os.environ["PEZO_WORDS"]), random.Random(int(os.environ["PEZO_READY_SEED"]))
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value, dut.o__ready.value = 1, 0
    await ClockCycles(dut.clk, 2, rising=False)
    dut.rst.value = 0
    lines = []
    while len(lines) < words:
        await FallingEdge(dut.clk)
        ready = chance.random() < 0.6
        dut.o__ready.value = ready
        if ready and dut.o__valid.value:
            lines.append(f"{dut.o__payload.value.to_unsigned():x}\n")
    with open(os.environ["PEZO_DUMP"], "w") as file:
        file.writelines(lines)
