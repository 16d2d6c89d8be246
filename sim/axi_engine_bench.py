"""cocotb benches for the ZO engine's IP (hw/axi_stream.py AxiStreamEngine), driven as a ZCU102's processor drives
it: the host driver (host/driver.py) over the AXI4-Lite registers, and two AXI DMAs (sim/processor.py:
cocotbext-axi's source and sinks, with random gaps and backpressure on all three streams).

- `passes`: the passes of PEZO_ENGINE_PLAN, a JSON file {e, bits (per value), weights (the format's bits, lane 0
  of beat 0 first), passes [{mode, c, d}]}; writes to PEZO_DUMP (JSON) each pass's output values as ints, and the
  status registers at the end.
- `length_errors`: transfers of the wrong length set STATUS.length_error and count in ERRORS, the driver raises,
  and the passes still come out whole; PEZO_ENGINE_PLAN holds {length}.
- `host`: PEZO_ENGINE_HOST names `module:Class`; an object of it, made from the plan, drives the engine
  (`drive(engine)`, in the driver's thread), as pezo/hil.py's host does for `pezo hil --via axi`.
"""
import importlib
import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles

from pezo.host.driver import EngineError, ZOEngine
from pezo.host.registers import MODES

from .processor import Dma, Mmio

MODE_NAMES = {code: name for name, code in MODES.items()}


def plan():
    with open(os.environ["PEZO_ENGINE_PLAN"]) as file:
        return json.load(file)


async def start(dut):
    """Clock, reset, and the processor's MMIO and two DMAs; returns the arguments of a ZOEngine."""
    Clock(dut.aclk, 10, unit="ns").start()
    dut.aresetn.value = 0
    mmio = Mmio(dut, "s_axi_ctrl", dut.aclk, dut.aresetn)
    weights = Dma(dut, dut.aclk, dut.aresetn, send="s_axis_weights", receive="m_axis_updated", seed=5)
    perturbed = Dma(dut, dut.aclk, dut.aresetn, receive="m_axis_perturbed", seed=9)
    await ClockCycles(dut.aclk, 3)
    dut.aresetn.value = 1
    await ClockCycles(dut.aclk, 2)
    return mmio, weights, perturbed


def dump(value):
    with open(os.environ["PEZO_DUMP"], "w") as file:
        json.dump(value, file)


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def passes(dut):
    ports, work = await start(dut), plan()

    def run():
        engine = ZOEngine(*ports)
        engine.load_bits(np.array(work["weights"]))
        engine.write("E", work["e"])
        outputs = [engine.run_pass(MODE_NAMES[item["mode"]], item["c"], item["d"])[:engine.count].tolist()
                   for item in work["passes"]]
        return {"passes": outputs, "status": engine.status()}
    dump(await bridge(run)())


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def length_errors(dut):
    ports, length = await start(dut), plan()["length"]
    _, weights_dma, perturbed_dma = ports

    def run():
        engine = ZOEngine(*ports)
        found = {"clean": engine.status()}
        engine.load_bits(np.zeros(length * engine.lanes, dtype=np.uint32))
        # one pass of `length` beats sent as two transfers: the first ends early, with tlast
        beats = [np.zeros(count * engine.lanes, dtype=engine.buffers["weights"].dtype) for count in (length - 1, 1)]
        perturbed_dma.recvchannel.transfer(engine.buffers["perturbed"])
        for part in beats:
            weights_dma.sendchannel.transfer(part)
            weights_dma.sendchannel.wait()
        perturbed_dma.recvchannel.wait()
        found["early"] = {**engine.status(), "received": perturbed_dma.recvchannel.transferred}
        try:
            engine.check()
        except EngineError as error:
            found["raised"] = str(error)
        engine.clear_errors()
        found["cleared"] = engine.status()
        # two passes sent as one transfer: tlast is missing on the first pass's last beat
        zeros = np.zeros(2 * length * engine.lanes, dtype=engine.buffers["weights"].dtype)
        perturbed_dma.recvchannel.transfer(engine.buffers["perturbed"])
        weights_dma.sendchannel.transfer(zeros)
        perturbed_dma.recvchannel.wait()
        perturbed_dma.recvchannel.transfer(engine.buffers["perturbed"])
        perturbed_dma.recvchannel.wait()
        weights_dma.sendchannel.wait()
        found["missing"] = engine.status()
        engine.clear_errors()
        engine.run_pass("perturb-plus")
        found["after"] = engine.status()
        return found
    dump(await bridge(run)())


@cocotb.test()
async def host(dut):
    ports = await start(dut)
    module, _, name = os.environ["PEZO_ENGINE_HOST"].partition(":")
    driver = getattr(importlib.import_module(module), name)(plan())
    await bridge(lambda: driver.drive(ZOEngine(*ports)))()
