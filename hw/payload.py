"""The word format shared by both generators (docs/spec.md sections 2 and 8).

A word is `lanes` signed mantissas (lane 0 at bit 0), one signed exponent, and the `last` flag, packed least
significant bit first in that order.
"""
from amaranth.hdl import signed, unsigned
from amaranth.lib import data


def payload_layout(spec):
    return data.StructLayout({
        "mantissas": data.ArrayLayout(signed(spec.mantissa_bits), spec.lanes),
        "exponent": signed(spec.exponent_bits),
        "last": unsigned(1),
    })
