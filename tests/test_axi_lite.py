"""The AXI4-Lite register block (hw/axi_lite.py) in Amaranth's simulator against a Python model of its register
map (host/registers.py), for the engine's and the generator's maps: random writes with any strobes, address and
data offered together or either first, random reads anywhere in the block (unused addresses read 0), responses
held under random backpressure, the hardware raising sticky flags and changing read-only inputs, and every pulse
(w1p fields, `<field>_written`) counted."""
import random

import pytest
from amaranth.sim import Simulator

from pezo.host.registers import BLOCK_BYTES, engine_registers, generator_registers
from pezo.hw.axi_lite import RegisterBlock

MAPS = {"engine": engine_registers(5, "bf16", 13, 4), "generator": generator_registers(7, 12, 0)}


class Model:
    """What each register must read, and the pulses writes must make."""

    def __init__(self, registers):
        self.registers = {register.address // 4: register for register in registers}
        self.fields = [field for register in registers for field in register.fields]
        self.values = {field.name: field.reset for field in self.fields}
        self.pulses = {name: 0 for name in self.pulse_names()}

    def pulse_names(self):
        return [field.name if field.access == "w1p" else f"{field.name}_written"
                for field in self.fields if field.access in ("w1p", "rw")]

    def write(self, address, data, strobe):
        register = self.registers.get(address % BLOCK_BYTES // 4)
        for field in register.fields if register else []:
            mask = sum(1 << i for i in range(field.width) if strobe >> ((field.bit + i) // 8) & 1)
            written = (data >> field.bit) & ((1 << field.width) - 1) & mask
            if field.access == "rw":
                self.values[field.name] = (self.values[field.name] & ~mask) | written
                self.pulses[f"{field.name}_written"] += 1
            elif field.access == "w1c":
                self.values[field.name] &= ~written
            elif field.access == "w1p" and written:
                self.pulses[field.name] += 1

    def read(self, address):
        register = self.registers.get(address % BLOCK_BYTES // 4)
        return sum((0 if field.access == "w1p" else self.values[field.name]) << field.bit
                   for field in (register.fields if register else []))


@pytest.mark.parametrize("name", sorted(MAPS))
def test_register_block_against_its_model(name):
    registers, rng = MAPS[name], random.Random(7)
    dut, model = RegisterBlock(registers), Model(registers)
    seen = {pulse: 0 for pulse in model.pulse_names()}
    addresses = [register.address for register in registers] + [0x80, BLOCK_BYTES - 4]
    checked = []

    async def tick(ctx):
        await ctx.tick()
        for pulse in seen:
            seen[pulse] += ctx.get(getattr(dut, pulse))

    async def respond(ctx, valid, ready):
        """Wait for a response under random backpressure; it must stay offered until taken."""
        offered = False
        for _ in range(40):
            take = rng.random() < 0.5
            ctx.set(ready, take)
            if ctx.get(valid):
                offered = True
                assert ctx.get(dut.bresp) == 0 and ctx.get(dut.rresp) == 0
                if take:
                    value = ctx.get(dut.rdata)
                    await tick(ctx)
                    ctx.set(ready, 0)
                    return value
            else:
                assert not offered, "a response was withdrawn before it was taken"
            await tick(ctx)
        raise AssertionError("no response")

    async def write(ctx, address, data, strobe):
        aw_delay, w_delay = rng.choice([(0, 0), (0, 3), (3, 0), (1, 2)])
        aw_done = w_done = False
        for cycle in range(20):
            ctx.set(dut.awaddr, address)
            ctx.set(dut.wdata, data)
            ctx.set(dut.wstrb, strobe)
            ctx.set(dut.awvalid, not aw_done and cycle >= aw_delay)
            ctx.set(dut.wvalid, not w_done and cycle >= w_delay)
            assert ctx.get(dut.awready) == ctx.get(dut.wready)
            aw_fire = ctx.get(dut.awvalid) and ctx.get(dut.awready)
            w_fire = ctx.get(dut.wvalid) and ctx.get(dut.wready)
            await tick(ctx)
            aw_done, w_done = aw_done or aw_fire, w_done or w_fire
            if aw_done and w_done:
                break
        assert aw_done and w_done
        ctx.set(dut.awvalid, 0)
        ctx.set(dut.wvalid, 0)
        model.write(address, data, strobe)
        await respond(ctx, dut.bvalid, dut.bready)

    async def read(ctx, address):
        for _ in range(rng.choice([0, 2])):
            await tick(ctx)
        ctx.set(dut.araddr, address)
        ctx.set(dut.arvalid, 1)
        for _ in range(20):
            fire = ctx.get(dut.arready)
            await tick(ctx)
            if fire:
                break
        ctx.set(dut.arvalid, 0)
        return await respond(ctx, dut.rvalid, dut.rready)

    async def testbench(ctx):
        await tick(ctx)
        for _ in range(300):
            for field in model.fields:                     # the hardware's side
                if field.access == "ro":
                    model.values[field.name] = rng.getrandbits(field.width)
                    ctx.set(getattr(dut, field.name), model.values[field.name])
                if field.access == "w1c" and rng.random() < 0.2:
                    ctx.set(getattr(dut, f"set_{field.name}"), 1)
                    await tick(ctx)
                    ctx.set(getattr(dut, f"set_{field.name}"), 0)
                    model.values[field.name] = 1
            address = rng.choice(addresses) + rng.choice([0, 0, 0, rng.randrange(4)])
            if rng.random() < 0.5:
                data = rng.getrandbits(32) if rng.random() < 0.7 else rng.choice([0, 0xFFFFFFFF])
                await write(ctx, address, data, rng.choice([0xF, 0xF, rng.randrange(16)]))
            else:
                got = await read(ctx, address)
                assert got == model.read(address), f"{address:#x}: {got:#x}, model {model.read(address):#x}"
                checked.append(address)
        for _ in range(2):
            await tick(ctx)
        assert seen == model.pulses

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert len(checked) > 100 and {address & ~3 for address in checked} >= set(addresses)
