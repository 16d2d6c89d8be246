"""A point's hardware cost: the Yosys estimate (synth/estimate.py, cached) of the generator that makes its stream.

- pezo-otf, pezo-pool, clt-gaussian: the generator of the point's spec (the exported top, as `pezo synth estimate`
  prices it; clt-gaussian's is the Gaussian baseline with the replay the port contract needs, so it costs more than
  Table 6's bare lanes);
- uniform-raw: the same otf generator (its scaler's 2^k is then unused, so this slightly overstates it);
- gaussian, rademacher, uniform: torch's generators, with no hardware in pezo: no cost (None).
"""
from pezo.synth.designs import blocks
from pezo.synth.estimate import estimate


def hardware_cost(point):
    """{"design", "luts", "ffs", "lut_ff", "bram36", "dsps", "lut_levels"} of the point's generator, or None."""
    if point.spec is None:
        return None
    (name, build), = blocks(point.spec, ["top"]).items()
    found = estimate(name, build)
    return {"design": name, "luts": found.lut_total, "ffs": found.ffs, "lut_ff": found.lut_total + found.ffs,
            "bram36": found.bram36_equivalent, "dsps": found.dsps, "lut_levels": found.lut_levels}
