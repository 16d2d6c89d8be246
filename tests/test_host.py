"""The host side of the IP: the register maps as docs/spec.md section 12 shows them, and the driver's conversion of
weights to the engine's formats equal to the golden engine's store (the engine's own passes through the driver are
tests/test_axi.py's, its ZO steps against the golden trainer tests/test_hil.py's)."""
from pathlib import Path

import numpy as np
import torch

from pezo.golden import engine
from pezo.host.driver import from_bits, to_bits
from pezo.host.registers import ACCESS, BLOCK_BYTES, engine_registers, fields, generator_registers, markdown, mask

SPEC = Path(__file__).parents[1] / "docs" / "spec.md"


def test_the_spec_shows_the_register_maps():
    text = SPEC.read_text()
    assert markdown(engine_registers()) in text and markdown(generator_registers()) in text


def test_register_maps_are_well_formed():
    """Fields fit their 32-bit register without overlapping, names are unique, addresses word-aligned, distinct and
    inside the block, and the offsets do not depend on the build."""
    for registers in (engine_registers(), generator_registers(), engine_registers(3, "bf16", 9, 0)):
        addresses = [register.address for register in registers]
        assert len(set(addresses)) == len(addresses) and all(a % 4 == 0 and a < BLOCK_BYTES for a in addresses)
        names = [field.name for register in registers for field in register.fields]
        assert len(set(names)) == len(names)
        for register in registers:
            used = 0
            for field in register.fields:
                bits = ((1 << field.width) - 1) << field.bit
                assert field.access in ACCESS and not used & bits and field.bit + field.width <= 32
                assert 0 <= field.reset < 1 << field.width
                used |= bits
    rng = np.random.default_rng(1)
    for registers in (engine_registers(), generator_registers()):        # how the driver reads a register
        for register in registers:
            chosen = {field.name: int(rng.integers(0, 1 << field.width)) for field in register.fields}
            value = sum(chosen[field.name] << field.bit for field in register.fields)
            assert fields(registers, register.name, value) == chosen
            assert sum(mask(registers, register.name, name) for name in chosen) == sum(
                ((1 << field.width) - 1) << field.bit for field in register.fields)
    assert mask(engine_registers(), "STATUS", "length_error") == 2
    full = {r.name: r.address for r in engine_registers()}
    assert {r.name: r.address for r in engine_registers(3, "bf16", 9, 0)} == {k: v for k, v in full.items()
                                                                               if k != "HOP"}


def special_values():
    rng = np.random.default_rng(3)
    patterns = [0, 0x80000000, 1, 0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
                0x7FC00000, 0x7F800001, 0xFFFFFFFF, 0x3F808000, 0x3F818000, 0x3F80C000, 0x7F7F8000, 0x00008000,
                0x80008001]
    bits = np.concatenate([np.array(patterns, dtype=np.uint32), rng.integers(0, 1 << 32, 4000, dtype=np.uint32)])
    return bits.view(np.float32)


def test_weights_convert_as_the_golden_engine_stores_them():
    """bf16: nearest even (ties, overflow to infinity, subnormals), -0 stored as +0, NaN canonical; fp32 as it is;
    and back to float32 exactly."""
    values = special_values()
    stored = engine.update(torch.from_numpy(values.copy()), torch.zeros(values.size), 0.0, "bf16")
    golden = (stored.view(torch.int32) >> 16).numpy().astype(np.uint16)
    assert np.array_equal(to_bits(values, "bf16"), golden)
    assert np.array_equal(from_bits(golden, "bf16").view(np.uint32), golden.astype(np.uint32) << 16)
    assert np.array_equal(to_bits(values, "fp32"), values.view(np.uint32))
    assert np.array_equal(from_bits(to_bits(values, "fp32"), "fp32").view(np.uint32), values.view(np.uint32))
