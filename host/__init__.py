"""The processor's side of pezo's IP: the register maps of the AXI4-Lite control interface and a PYNQ-shaped driver.

It imports nothing of pezo and needs only numpy, so `pezo synth ip` copies it into the IP folder as it is, for the
board's processor."""
