"""A point's hardware cost: the Yosys estimate (synth/estimate.py, cached) of the generator that makes its stream.

- pezo-otf, pezo-pool: the generator of the point's spec (the exported top, as `pezo synth estimate` prices it);
- uniform-raw: the same otf generator (its scaler's 2^k is then unused, so this slightly overstates it);
- clt-gaussian: pezo's Gaussian baseline hardware, as many lanes as the source reads per word (Table 6's MeZO row);
- gaussian, rademacher, uniform: torch's generators, with no hardware in pezo: no cost (None).
"""
from pezo.synth.designs import blocks, gaussian_baseline
from pezo.synth.estimate import estimate
from pezo.train.perturbations import CltPerturbation, STREAMED


def hardware_cost(point):
    """{"design", "luts", "ffs", "lut_ff", "bram36", "dsps", "lut_levels"} of the point's generator, or None."""
    perturb = point.settings["perturb"]
    if perturb in STREAMED:
        designs = blocks(point.spec, ["top"])
    elif perturb == "clt-gaussian":
        designs = gaussian_baseline(CltPerturbation.LANES, point.settings["seed"] + 1)
    else:
        return None
    (name, build), = designs.items()
    found = estimate(name, build)
    return {"design": name, "luts": found.lut_total, "ffs": found.ffs, "lut_ff": found.lut_total + found.ffs,
            "bram36": found.bram36_equivalent, "dsps": found.dsps, "lut_levels": found.lut_levels}
