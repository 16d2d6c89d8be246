"""cocotb bench for the generator's AXI wrapper (hw/axi_stream.py AxiStreamGenerator): cocotbext-axi's AxiStreamSink
with random backpressure receives packets while the bench replays and moves on, as a ZO step does; an AXI4-Lite
master plays the processor, writing LENGTH and, for upper-case commands, the COMMAND register.

Environment: PEZO_LENGTH (words per perturbation), PEZO_PLAN (a string of commands, one after each received packet:
'r' replay / 'n' next on the ports, 'R' / 'N' through the COMMAND register), PEZO_DUMP (output: one line per
packet, its beats' tdata in hex, then a line with the PACKETS and STATUS registers). The sink ends a packet at
tlast, so a packet's beat count shows where tlast was.
"""
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamSink

from pezo.host.registers import generator_registers, mask, offsets

MAP = generator_registers()
REGISTER = offsets(MAP)
COMMANDS = {"N": mask(MAP, "COMMAND", "next"), "R": mask(MAP, "COMMAND", "replay")}


async def pulse(dut, name):
    await FallingEdge(dut.aclk)
    getattr(dut, name).value = 1
    await FallingEdge(dut.aclk)
    getattr(dut, name).value = 0


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def packets(dut):
    Clock(dut.aclk, 10, unit="ns").start()
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
    control = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_ctrl"), dut.aclk, dut.aresetn,
                            reset_active_level=False)
    chance = random.Random(3)
    sink.set_pause_generator(iter(lambda: chance.random() < 0.4, None))
    dut.aresetn.value, dut.next.value, dut.replay.value = 0, 0, 0
    await ClockCycles(dut.aclk, 3)
    dut.aresetn.value = 1
    await control.write_dword(REGISTER["LENGTH"], int(os.environ["PEZO_LENGTH"]))
    lines = []
    for command in os.environ["PEZO_PLAN"] + ".":
        frame = await sink.recv(compact=False)
        width = len(dut.m_axis_tdata) // 8
        beats = [bytes(frame.tdata[i:i + width]) for i in range(0, len(frame.tdata), width)]
        lines.append(" ".join(f"{int.from_bytes(beat, 'little'):x}" for beat in beats) + "\n")
        while not dut.done.value:
            await RisingEdge(dut.aclk)
        if command in COMMANDS:
            await control.write_dword(REGISTER["COMMAND"], COMMANDS[command])
        elif command != ".":
            await pulse(dut, {"r": "replay", "n": "next"}[command])
    registers = [await control.read_dword(REGISTER[name]) for name in ("PACKETS", "STATUS")]
    with open(os.environ["PEZO_DUMP"], "w") as file:
        file.writelines(lines + [" ".join(map(str, registers)) + "\n"])
