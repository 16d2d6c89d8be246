"""Table 6 of the PeZO paper, re-measured on one flow: the MeZO Gaussian baseline against the PeZO generators.

Every row is a Yosys estimate (synth/estimate.py) of a design in this repository; the paper's figures are quoted
beside it for reference only. Utilisation is against the ZCU102's xczu9eg; ratios are baseline / row.
"""
import dataclasses

from pezo.golden import OtfSpec, PoolSpec, SpecError

from .designs import blocks, gaussian_baseline
from .estimate import CAVEAT, estimate_all

ZCU102_CAPACITY = {"LUTs": 274_080, "FFs": 548_160, "BRAM36": 912}
PAPER = [
    "MeZO baseline, 1024 Gaussian generators: 133,120 LUTs, 69,632 FFs, 4.47 W, 500 MHz",
    "PeZO on-the-fly: 32 LUTs, 449 FFs, 1 BRAM, 0.61 W, 700 MHz",
    "PeZO pre-generation: 16 FFs, 8 BRAMs, 2.10 W",
]


@dataclasses.dataclass(frozen=True)
class Target:
    """A goal for one block: `measure` of the estimate of `design` at most `limit`."""
    label: str
    design: str
    measure: str
    limit: float

    def check(self, estimate):
        """(met, the measured value as text)."""
        value = getattr(estimate, self.measure)
        return value <= self.limit, f"{value:g}"


@dataclasses.dataclass(frozen=True)
class ScalerTarget:
    """The scaler's goal: the estimate of `design` within one BRAM18, or else within 16 LUTs."""
    label: str
    design: str

    def check(self, estimate):
        """(met, the measured BRAM and LUTs as text)."""
        met = estimate.bram18 + 2 * estimate.bram36 <= 1 or estimate.lut_total <= 16
        return met, f"{estimate.bram18} BRAM18 + {estimate.bram36} BRAM36, {estimate.lut_total} LUTs"


def rows(lanes=1024, banks=5):
    """[(row label, module name, factory)] in table order."""
    if banks < 2:
        raise ValueError(f"banks={banks} is out of range: a banked pool has 2 or more banks")
    try:
        banked = PoolSpec(size=4095, bits=12, lanes=banks)
    except SpecError as error:
        raise ValueError(f"banks={banks}: {error}") from None
    otf8, otf14 = OtfSpec(generators=31, width=8), OtfSpec(generators=31, width=14)
    single = PoolSpec(size=4095, bits=12)
    table = [(f"MeZO baseline: {lanes} Gaussian lanes (CLT of 4 uniforms)", *_one(gaussian_baseline(lanes)))]
    for spec, label in ((otf8, "PeZO OtF 31x8 with scaler"), (otf14, "PeZO OtF 31x14 with scaler")):
        designs = blocks(spec, ["top", "array", "array_noreplay", "scaler"])
        for (name, factory), part in zip(designs.items(), ("generator", "array (with replay)",
                                                           "array without replay", "scaler")):
            table.append((f"{label}: {part}", name, factory))
        reloaded = blocks(dataclasses.replace(spec, reload=1), ["top", "array"])
        for (name, factory), part in zip(reloaded.items(), ("generator, reloading replay",
                                                            "array (reloading replay)")):
            table.append((f"{label}: {part}", name, factory))
    table.append(("PeZO pool 4095x12, single read: generator", *_one(blocks(single, ["top"]))))
    table.append(("PeZO pool 4095x12, single read: pool", *_one(blocks(single, ["pool"]))))
    table.append((f"PeZO pool 4095x12, {banks} banks: generator", *_one(blocks(banked, ["top"]))))
    return table


def targets():
    """The PeZO block goals of issues 4 and 13 (goals to report against, not results)."""
    return [
        Target("OtF 31x8 array (without replay) <= 33 LUTs", "pezo_otf_31x8_array_noreplay", "lut_total", 33),
        Target("OtF 31x8 array (without replay) <= 260 FFs", "pezo_otf_31x8_array_noreplay", "ffs", 260),
        Target("OtF 31x8 array (with replay) <= 33 LUTs", "pezo_otf_31x8_array", "lut_total", 33),
        Target("OtF 31x8 array (with replay) <= 260 FFs", "pezo_otf_31x8_array", "ffs", 260),
        Target("OtF 31x8 array, reloading replay <= 62 LUTs (2n)", "pezo_otf_31x8_reload_array", "lut_total", 62),
        Target("OtF 31x8 array, reloading replay <= 280 FFs (nb + 4b)", "pezo_otf_31x8_reload_array", "ffs", 280),
        ScalerTarget("scaler 31x8: <= 1 BRAM18 or <= 16 LUTs", "pezo_otf_31x8_scaler"),
        ScalerTarget("scaler 31x14: <= 1 BRAM18 or <= 16 LUTs", "pezo_otf_31x14_scaler"),
        Target("pool 4095x12 <= 2 BRAM36-equivalents", "pezo_pool_4095x12_pool", "bram36_equivalent", 2),
        Target("pool 4095x12 <= 32 FFs", "pezo_pool_4095x12_pool", "ffs", 32),
        Target("OtF 31x8 array: 1-2 LUT levels", "pezo_otf_31x8_array", "lut_levels", 2),
        Target("OtF 31x8 generator: 1-2 LUT levels", "pezo_otf_31x8", "lut_levels", 2),
        Target("pool 4095x12 generator: 1-2 LUT levels", "pezo_pool_4095x12", "lut_levels", 2),
    ]


def _one(designs):
    (name, factory), = designs.items()
    return name, factory


def measure(lanes=1024, banks=5, jobs=None):
    """The table as a JSON-able dict: caveat, capacity, paper figures, rows (estimates) and target checks."""
    table = rows(lanes, banks)
    estimates = estimate_all({name: factory for _, name, factory in table}, jobs)
    baseline = estimates[table[0][1]]
    out_rows = []
    for label, name, _ in table:
        item = estimates[name]
        out_rows.append({
            "label": label, **item.to_dict(),
            "utilisation_percent": {"LUTs": 100 * item.lut_total / ZCU102_CAPACITY["LUTs"],
                                    "FFs": 100 * item.ffs / ZCU102_CAPACITY["FFs"],
                                    "BRAM36": 100 * item.bram36_equivalent / ZCU102_CAPACITY["BRAM36"]},
            "baseline_ratio": {"LUTs": _ratio(baseline.lut_total, item.lut_total),
                               "FFs": _ratio(baseline.ffs, item.ffs)},
        })
    checks = []
    for target in targets():
        met, shown = target.check(estimates[target.design])
        checks.append({"target": target.label, "design": target.design, "measured": shown, "met": met})
    return {"caveat": CAVEAT, "capacity": ZCU102_CAPACITY, "paper": PAPER, "rows": out_rows, "targets": checks}


def _ratio(baseline, value):
    return baseline / value if value else None


def markdown(table):
    """The measured table, the target checks and the caveat as markdown."""
    lines = ["| design | LUTs | FFs | BRAM36-eq (BRAM18/36) | CARRY | LUT levels | % LUTs | % FFs | % BRAM "
             "| baseline / row: LUTs | FFs |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in table["rows"]:
        use, ratio = row["utilisation_percent"], row["baseline_ratio"]
        lines.append(
            f"| {row['label']} | {row['lut_total']:,} | {row['ffs']:,} | {row['bram36_equivalent']:g} "
            f"({row['bram18']}/{row['bram36']}) | {row['carries']:,} | {row['lut_levels']} | {use['LUTs']:.3f} "
            f"| {use['FFs']:.3f} | {use['BRAM36']:.2f} | {_times(ratio['LUTs'])} | {_times(ratio['FFs'])} |")
    lines += ["", "ZCU102 (xczu9eg-ffvb1156-2-e) capacity: "
              + ", ".join(f"{value:,} {name}" for name, value in table["capacity"].items()) + ".",
              "", "| target (goal) | design | measured | met |", "|---|---|---|---|"]
    lines += [f"| {check['target']} | {check['design']} | {check['measured']} | {'yes' if check['met'] else 'no'} |"
              for check in table["targets"]]
    lines += ["", "The paper's Table 6 (Vivado on a ZCU102), for reference: " + "; ".join(table["paper"]) + ".",
              "", table["caveat"]]
    return "\n".join(lines)


def _times(ratio):
    return "n/a" if ratio is None else f"{ratio:,.1f}x"
