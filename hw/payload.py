"""The word format shared by both generators (docs/spec.md sections 2 and 8).

A word is `lanes` signed mantissas (lane 0 at bit 0), one signed exponent, and the `last` flag, packed least
significant bit first in that order.
"""
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from pezo.golden.otf import exponent_table
from pezo.golden.pool import pool_table
from pezo.golden.spec import exponent_bits_for


def exponent_range(spec):
    """(lowest, highest) exponent the stream of `spec` carries."""
    if spec.strategy == "otf":
        return exponent_table(spec).exponent_range
    exponent = pool_table(spec).exponent
    return exponent, exponent


def exponent_bits(spec):
    """Width E of the signed exponent field: `spec.exp_bits`, or the smallest that holds every exponent."""
    return spec.exp_bits or exponent_bits_for(*exponent_range(spec))


def payload_layout(spec):
    return data.StructLayout({
        "mantissas": data.ArrayLayout(signed(spec.mantissa_bits), spec.lanes),
        "exponent": signed(exponent_bits(spec)),
        "last": unsigned(1),
    })
