"""cocotb bench for the ZO engine's AXI4-Stream wrapper (hw/axi_stream.py AxiStreamEngine): cocotbext-axi's
AxiStreamSource offers the weights with random gaps, and two AxiStreamSinks take the perturbed and the updated
weights with random backpressure, for the passes of ZO steps; an update pass's output becomes the weights.

Environment: PEZO_ENGINE_PLAN, a JSON file {e, length, bits (per value), weights (ints, lane 0 of beat 0 first),
passes [{mode, c, d}]}; PEZO_DUMP (output: JSON, per pass the received values as ints). A sink ends a frame at
tlast, so a frame's length shows where tlast was.
"""
import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, with_timeout
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

UPDATE = 2


def pack(values, bits):
    return b"".join(value.to_bytes(bits // 8, "little") for value in values)


def unpack(data, bits):
    size = bits // 8
    return [int.from_bytes(data[i:i + size], "little") for i in range(0, len(data), size)]


@cocotb.test()
async def zo_steps(dut):
    with open(os.environ["PEZO_ENGINE_PLAN"]) as file:
        plan = json.load(file)
    Clock(dut.aclk, 10, unit="ns").start()
    bus = lambda prefix: AxiStreamBus.from_prefix(dut, prefix)  # noqa: E731
    source = AxiStreamSource(bus("s_axis_weights"), dut.aclk, dut.aresetn, reset_active_level=False)
    sinks = {name: AxiStreamSink(bus(f"m_axis_{name}"), dut.aclk, dut.aresetn, reset_active_level=False)
             for name in ("perturbed", "updated")}
    chance = random.Random(5)
    for port in [source, *sinks.values()]:
        port.set_pause_generator(iter(lambda: chance.random() < 0.4, None))
    for name, value in [("aresetn", 0), ("mode", 0), ("e", plan["e"]), ("c", 0), ("d", 0),
                        ("length", plan["length"])]:
        getattr(dut, name).value = value
    await ClockCycles(dut.aclk, 3)
    dut.aresetn.value = 1
    weights, received = plan["weights"], []
    for item in plan["passes"]:
        await FallingEdge(dut.aclk)
        dut.mode.value, dut.c.value, dut.d.value = item["mode"], item["c"], item["d"]
        await source.send(AxiStreamFrame(pack(weights, plan["bits"])))
        sink = sinks["updated" if item["mode"] == UPDATE else "perturbed"]
        frame = await with_timeout(sink.recv(compact=False), 40 * (plan["length"] + 64) * 10, "ns")
        received.append(unpack(bytes(frame.tdata), plan["bits"]))
        weights = received[-1] if item["mode"] == UPDATE else weights
        await source.wait()
    assert all(sink.empty() for sink in sinks.values()), "a sink received beats beyond the passes"
    with open(os.environ["PEZO_DUMP"], "w") as file:
        json.dump(received, file)
