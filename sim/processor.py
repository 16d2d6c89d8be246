"""The processor and its DMA, played by cocotbext-axi for the host driver (host/driver.py) in a cocotb test.

`Mmio` has PYNQ's MMIO shape (read and write a register) over an AxiLiteMaster; `Dma` has an AXI DMA's shape
(`sendchannel` and `recvchannel`, each with `transfer(buffer)` and `wait()`) over an AxiStreamSource and an
AxiStreamSink. Their methods block, as PYNQ's do: the driver runs in a thread beside the simulator
(`cocotb.task.bridge`), and each method waits there for the coroutine it starts (`cocotb.task.resume`). Every
stream has random gaps or backpressure, from `seed`. They log warnings only: cocotbext-axi would log every
transfer's data.
"""
import logging
import random

import cocotb
from cocotb.task import resume
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiResp, AxiStreamBus, AxiStreamFrame, AxiStreamSink, \
    AxiStreamSource


class Mmio:
    """The IP's registers on `<prefix>_*`, read and written as 32-bit words; a non-OKAY response raises."""

    def __init__(self, dut, prefix, clock, reset):
        self.master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, prefix), clock, reset, reset_active_level=False)
        quiet(self.master.write_if)
        quiet(self.master.read_if)

    def read(self, offset, length=4):
        response = resume(self.master.read)(offset, length)
        if response.resp != AxiResp.OKAY:
            raise OSError(f"reading {offset:#x} answered {response.resp.name}")
        return int.from_bytes(response.data, "little")

    def write(self, offset, value):
        response = resume(self.master.write)(offset, int(value).to_bytes(4, "little"))
        if response.resp != AxiResp.OKAY:
            raise OSError(f"writing {offset:#x} answered {response.resp.name}")


def quiet(port):
    port.log.setLevel(logging.WARNING)
    return port


def _gaps(port, seed, chance=0.4):
    rng = random.Random(seed)
    port.set_pause_generator(iter(lambda: rng.random() < chance, None))
    return quiet(port)


class SendChannel:
    """MM2S: a buffer (a numpy array) becomes one packet on the stream, tlast on its last beat."""

    def __init__(self, source):
        self.source = source

    def transfer(self, buffer):
        resume(self._send)(bytes(memoryview(buffer).cast("B")))

    async def _send(self, data):
        self.source.send_nowait(AxiStreamFrame(data))

    def wait(self):
        resume(self.source.wait)()


class RecvChannel:
    """S2MM: the next packet (up to tlast) fills the buffer; a longer packet raises, as it would overrun it.
    `transferred` holds the bytes the last packet had."""

    def __init__(self, sink):
        self.sink, self.task, self.buffer, self.transferred = sink, None, None, 0

    def transfer(self, buffer):
        self.buffer = buffer
        self.task = resume(self._start)()

    async def _start(self):
        return cocotb.start_soon(self.sink.recv(compact=False))

    def wait(self):
        frame = resume(self._finish)()
        data = bytes(frame.tdata)
        view = memoryview(self.buffer).cast("B")
        if len(data) > len(view):
            raise OSError(f"a packet of {len(data)} bytes overran a buffer of {len(view)}")
        view[:len(data)] = data
        self.transferred = len(data)

    async def _finish(self):
        return await self.task


class Dma:
    """An AXI DMA: `sendchannel` drives the stream `send` (a slave of the IP) and `recvchannel` drains `receive` (a
    master of the IP); either may be None."""

    def __init__(self, dut, clock, reset, send=None, receive=None, seed=0):
        bus = lambda prefix: AxiStreamBus.from_prefix(dut, prefix)  # noqa: E731
        self.sendchannel = send and SendChannel(_gaps(AxiStreamSource(bus(send), clock, reset,
                                                                      reset_active_level=False), seed))
        self.recvchannel = receive and RecvChannel(_gaps(AxiStreamSink(bus(receive), clock, reset,
                                                                       reset_active_level=False), seed + 1))
