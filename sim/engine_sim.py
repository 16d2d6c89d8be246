"""The engine (hw/engine.py) on Icarus or Verilator in its harness (sim/engine_harness.v), against the golden
engine (golden/engine.py) on the golden stream: every bit of every lane of every output beat of every pass.

`build` compiles the engine of a spec and format with the harness for weight memories of up to `depth` beats;
`Simulation.run(weights, passes)` loads the weights (a float32 tensor of format values, padded to whole beats),
plays the passes with random gaps and backpressure, and returns the output beats of each pass; `golden_passes`
gives what they must be.
"""
import dataclasses
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from cocotb_tools.runner import get_results, get_runner

from ..files import discard, own, write_file
from ..golden import Stream, engine
from ..golden.engine import FORMATS
from ..golden.stream import hop, words_per_step
from ..hw.engine import PERTURB_MINUS, PERTURB_PLUS, UPDATE, Engine
from ..hw.export import default_name
from ..hw.verilog import emit
from .runner import SIMULATORS, compile_bench, hop_defines, hop_parameters

HARNESS = Path(__file__).with_name("engine_harness.v")
OWNS = ["rtl/", "build/", "build.log", "engine_harness.v"]


def format_bits(fmt):
    return FORMATS[fmt].bits


def to_bits(values, fmt):
    """int64 bits of float32 values that hold `fmt` values."""
    bits = values.contiguous().view(torch.int32).to(torch.int64) & 0xFFFFFFFF
    return bits if fmt == "fp32" else bits >> 16


def from_bits(bits, fmt):
    """float32 values of `fmt` bits (int64)."""
    return (bits << (0 if fmt == "fp32" else 16)).to(torch.int32).view(torch.float32)


def scalar_bits(value):
    return int(to_bits(torch.tensor([value], dtype=torch.float32), "fp32")[0])


@dataclasses.dataclass(frozen=True)
class Simulation:
    spec: object
    fmt: str
    simulator: str
    directory: Path
    top: str
    depth: int
    build_seconds: float

    def run(self, weights, plan, name="run", host=None):
        """Play `plan` (e, passes [{mode, c, d}], w_chance, out_chance, seed, and hop, by default the one pezo sets
        for these weights) over `weights`; returns the output beats' bits per pass, as int64 tensors [beats,
        lanes], and the seconds simulated. `host`: environment for a host that drives the passes itself
        (pezo/hil.py)."""
        lanes, bits = self.spec.lanes, format_bits(self.fmt)
        beats = weights.numel() // lanes
        if beats * lanes != weights.numel() or not 1 <= beats <= self.depth:
            raise ValueError(f"{weights.numel()} weights are not 1..{self.depth} whole beats of {lanes} lanes")
        folder = own(self.directory, [f"{name}/"]) / name
        folder.mkdir(exist_ok=True)
        table = to_bits(weights, self.fmt).view(beats, lanes).numpy()
        digits = bits * lanes // 4
        lines = "".join(f"{_beat(row, bits):0{digits}x}\n" for row in table)
        write_file(folder / "weights.hex", lines)
        plan = {"length": beats, "beats": beats, "hop": hop(self.spec, weights.numel()), "w_chance": 49152,
                "out_chance": 49152, "seed": 1, **plan}
        write_file(folder / "plan.json", json.dumps(plan))
        dump = folder / "dump.hex"
        begin = time.perf_counter()
        try:
            results = get_runner(self.simulator).test(
                test_module="pezo.sim.engine_driver", testcase="passes", hdl_toplevel="pezo_engine_harness",
                hdl_toplevel_lang="verilog", build_dir=self.directory / "build", test_dir=folder,
                plusargs=[f"+weights={folder / 'weights.hex'}", f"+dump={dump}"],
                extra_env={"PEZO_ENGINE_PLAN": str(folder / "plan.json"), **(host or {})},
                log_file=folder / "simulator.log")
        except BaseException:
            discard(dump)
            raise
        seconds = time.perf_counter() - begin
        tests, failed = get_results(results)
        if failed or not tests:
            raise RuntimeError(f"the engine's cocotb driver failed: see {folder / 'simulator.log'}")
        return split_dump(dump.read_text(), lanes, bits, beats), seconds


def _beat(row, bits):
    value = 0
    for lane, word in enumerate(row.tolist()):
        value |= word << (bits * lane)
    return value


def split_dump(text, lanes, bits, beats):
    """The dump's beats as int64 tensors [beats, lanes], one per pass; each pass's `last` flags are checked."""
    words = [int(line, 16) for line in text.split()]
    if len(words) % beats:
        raise ValueError(f"the dump holds {len(words)} beats, not whole passes of {beats}")
    passes = []
    for first in range(0, len(words), beats):
        chunk = words[first:first + beats]
        lasts = [word >> (bits * lanes) for word in chunk]
        if lasts != [0] * (beats - 1) + [1]:
            raise ValueError(f"pass {first // beats}: last flags {lasts[:8]}... are not on the last beat alone")
        passes.append(lane_bits(chunk, lanes, bits))
    return passes


def lane_bits(words, lanes, bits):
    """The lanes of dumped beats (ints, lane 0 lowest) as int64 [beats, lanes]."""
    mask = (1 << bits) - 1
    return torch.tensor(np.array([[(word >> (bits * lane)) & mask for lane in range(lanes)] for word in words],
                                 dtype=np.int64))


def golden_passes(spec, fmt, weights, plan):
    """The output bits of each pass of `plan` over `weights` (float32, format values), as int64 [beats, lanes];
    an update pass's output is written back, and the next perturbation starts after it (and the hop pezo sets)."""
    lanes, e = spec.lanes, plan["e"]
    stream, start, theta, found = Stream(spec), 0, weights.clone(), []
    for item in plan["passes"]:
        u = stream.values(start * lanes, theta.numel())
        if item["mode"] == UPDATE:
            c, d = (float(from_bits(torch.tensor([item[key]]), "fp32")[0]) for key in ("c", "d"))
            theta = engine.update(theta, u, c, fmt, d)
            result = theta
            start += words_per_step(spec, theta.numel())
        else:
            result = engine.perturb(theta, u, 1 if item["mode"] == PERTURB_PLUS else -1, e, fmt)
        found.append(to_bits(result, fmt).view(-1, lanes))
    return found


def test_weights(count, fmt, seed=0):
    """Typical weights (Gaussian, sigma 0.05) with every special class among them: zeros, subnormals, the largest
    finite values, infinities, NaN, and random bit patterns."""
    rng = random.Random(seed)
    bits = to_bits(torch.tensor([rng.gauss(0, 0.05) for _ in range(count)], dtype=torch.float32), fmt)
    width = format_bits(fmt)
    special = [0, 1 << (width - 1), 1, 3, (1 << (width - 1)) | 1]
    special += [pattern >> (32 - width) for pattern in (0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF,
                                                        0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001)]
    for index in range(0, count, 97):
        bits[index] = special[(index // 97) % len(special)] if index % 2 else rng.getrandbits(width)
    return from_bits(bits, fmt)


def step_plan(steps, seed=3, e=10):
    """`steps` ZO steps of three passes, with random host scalars: c of any size and sign, d just below 1."""
    rng = random.Random(seed)
    passes = []
    for _ in range(steps):
        c = scalar_bits(engine.fp32(rng.uniform(-1, 1) * 10 ** rng.uniform(-6, 0)))
        d = scalar_bits(engine.fp32(1 - 10 ** rng.uniform(-6, -2)))
        passes += [{"mode": PERTURB_PLUS, "c": 0, "d": 0}, {"mode": PERTURB_MINUS, "c": 0, "d": 0},
                   {"mode": UPDATE, "c": c, "d": d}]
    return {"e": e, "passes": passes}


def first_mismatch(got, want):
    """A line naming the first differing pass, beat and lane, or None."""
    if len(got) != len(want):
        return f"{len(got)} passes came out, not {len(want)}"
    for number, (out, expected) in enumerate(zip(got, want)):
        wrong = (out != expected).nonzero()
        if len(wrong):
            beat, lane = wrong[0].tolist()
            return (f"pass {number}, beat {beat}, lane {lane}: {int(out[beat, lane]):#x}, golden "
                    f"{int(expected[beat, lane]):#x}")
    return None


def build(spec, fmt, simulator, directory, depth, exported=None):
    """Compile the engine of `spec` and `fmt` with the harness in `directory` (claimed by the caller); `exported`:
    an exported engine build's (top module name, {filename: bytes}) to simulate as it is (hw/export.py)."""
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator={simulator!r} is unknown: allowed {list(SIMULATORS)}")
    directory = Path(os.path.abspath(directory))
    top = exported[0] if exported else default_name(spec, fmt)
    own(directory, OWNS)
    write_file(directory / "rtl" / f"{top}.v", exported[1][f"{top}.v"] if exported else
               emit(Engine(spec, fmt), top))
    write_file(directory / "engine_harness.v", HARNESS.read_bytes())
    begin = time.perf_counter()
    compile_bench(simulator, directory, [directory / "engine_harness.v", directory / "rtl" / f"{top}.v"],
                  "pezo_engine_harness",
                  {"LANES": spec.lanes, "FORMAT_BITS": format_bits(fmt), "LENGTH_BITS": spec.length_bits,
                   "DEPTH": depth, **hop_parameters(spec)}, {"PEZO_DUT": top, **hop_defines(spec)})
    return Simulation(spec, fmt, simulator, directory, top, depth, time.perf_counter() - begin)
