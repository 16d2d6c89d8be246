"""The Xilinx ZCU102 evaluation board (xczu9eg-ffvb1156-2-e), in amaranth-boards' style.

amaranth-boards has no ZCU102; this defines the resources pezo uses: the 125 MHz differential system clock, the
CPU reset push button and the eight user LEDs (pins from the board's public pinout).
"""
from amaranth.build import Attrs, Clock, DiffPairs, Pins, Resource
from amaranth.vendor import XilinxPlatform
from amaranth_boards.resources import LEDResources

__all__ = ["ZCU102Platform"]


class ZCU102Platform(XilinxPlatform):
    device = "xczu9eg"
    package = "ffvb1156"
    speed = "2-e"
    default_clk = "clk125"
    default_rst = "cpu_reset"
    resources = [
        Resource("clk125", 0, DiffPairs("G21", "F21", dir="i"), Clock(125e6), Attrs(IOSTANDARD="LVDS_25")),
        Resource("cpu_reset", 0, Pins("AM13", dir="i"), Attrs(IOSTANDARD="LVCMOS33")),
        *LEDResources(pins="AG14 AF13 AE13 AJ14 AJ15 AH13 AH14 AL12", attrs=Attrs(IOSTANDARD="LVCMOS33")),
    ]
    connectors = []
