"""cocotb bench for the AXI4-Stream wrapper (hw/axi_stream.py): cocotbext-axi's AxiStreamSink with random
backpressure receives packets while the bench replays and moves on, as a ZO step does.

Environment: PEZO_LENGTH (words per perturbation), PEZO_PLAN (a string of 'r' replay / 'n' next, one command
after each received packet), PEZO_DUMP (output: one line per packet, its beats' tdata in hex). The sink ends a
packet at tlast, so a packet's beat count shows where tlast was.
"""
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamSink


async def pulse(dut, name):
    await FallingEdge(dut.aclk)
    getattr(dut, name).value = 1
    await FallingEdge(dut.aclk)
    getattr(dut, name).value = 0


@cocotb.test()
async def packets(dut):
    Clock(dut.aclk, 10, unit="ns").start()
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
    chance = random.Random(3)
    sink.set_pause_generator(iter(lambda: chance.random() < 0.4, None))
    dut.aresetn.value, dut.length.value, dut.next.value, dut.replay.value = 0, int(os.environ["PEZO_LENGTH"]), 0, 0
    await ClockCycles(dut.aclk, 3)
    dut.aresetn.value = 1
    lines = []
    for command in os.environ["PEZO_PLAN"] + ".":
        frame = await sink.recv(compact=False)
        width = len(dut.m_axis_tdata) // 8
        beats = [bytes(frame.tdata[i:i + width]) for i in range(0, len(frame.tdata), width)]
        lines.append(" ".join(f"{int.from_bytes(beat, 'little'):x}" for beat in beats) + "\n")
        while not dut.done.value:
            await RisingEdge(dut.aclk)
        if command != ".":
            await pulse(dut, {"r": "replay", "n": "next"}[command])
    with open(os.environ["PEZO_DUMP"], "w") as file:
        file.writelines(lines)
