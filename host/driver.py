"""A PYNQ-shaped driver for the ZO engine IP: map its registers, run a pass, read its status, take a ZO step.

On a board with PYNQ, the engine's S_AXIS_WEIGHTS fed by one AXI DMA's MM2S channel whose S2MM channel takes
M_AXIS_UPDATED, and a second DMA's S2MM channel taking M_AXIS_PERTURBED:

    from pynq import Overlay, allocate
    overlay = Overlay("pezo.bit")
    engine = ZOEngine(overlay.pezo_engine_0.mmio, overlay.axi_dma_0, overlay.axi_dma_1, allocate)
    engine.load(weights)                        # float32 values in the stream's order (docs/spec.md section 9)
    g = engine.step(loss, lr=1e-3, e=10)        # loss(perturbed values) -> float; returns the projected gradient

It needs only objects of PYNQ's shapes: `mmio.read(offset)` and `mmio.write(offset, value)`, a DMA's `sendchannel`
and `recvchannel` with `transfer(buffer)` and `wait()`, and `allocate(shape, dtype)` giving a numpy array that a
DMA can reach (numpy.zeros off the board; sim/processor.py plays them in simulation). numpy is its only import.
"""
import numpy as np

from .registers import ENGINE_ID, FORMAT_CODES, MODES, ONE, engine_registers, fields, mask, offsets

MAP = engine_registers()
REGISTER = offsets(MAP)
LENGTH_ERROR = mask(MAP, "STATUS", "length_error")
BF16_NAN = 0x7FC0
"""The canonical quiet NaN the engine stores in bf16 (fp32 weights are stored as they are)."""
DTYPES = {"fp32": np.uint32, "bf16": np.uint16}


class EngineError(RuntimeError):
    """The engine flagged an error (a transfer of the wrong length) or is not the IP this driver drives."""


def to_bits(values, fmt):
    """The format's bits of float32 `values`, as the engine's memory holds them: fp32 as they are; bf16 rounded to
    nearest even, -0 stored as +0, NaN as the canonical quiet NaN (golden/engine.py's store)."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    bits = values.view(np.uint32)
    if fmt == "fp32":
        return bits.copy()
    wide = bits.astype(np.uint64)
    rounded = ((wide + 0x7FFF + ((wide >> 16) & 1)) >> 16).astype(np.uint16)
    rounded[rounded == 0x8000] = 0
    rounded[np.isnan(values)] = BF16_NAN
    return rounded


def from_bits(bits, fmt):
    """float32 values of the format's `bits`."""
    wide = np.asarray(bits).astype(np.uint32)
    return (wide if fmt == "fp32" else wide << 16).view(np.float32)


def fp32_bits(value):
    return int(np.float32(value).view(np.uint32))


def step_scalars(loss_plus, loss_minus, lr, e, weight_decay=0.0):
    """g, and the bits of c and d, of a ZO-SGD step as pezo's trainer takes it with the engine's numerics
    (train/engine.py): g = (L+ - L-) / (2 eps) in float32 arithmetic, c = fp32(lr g), d = fp32(1 - lr wd)."""
    grad = float((np.float32(loss_plus) - np.float32(loss_minus)) / np.float32(2.0 ** (1 - e)))
    return grad, fp32_bits(lr * grad), fp32_bits(1 - lr * weight_decay)


class ZOEngine:
    """The engine IP behind `mmio`, fed and drained by `weights_dma` (MM2S: weights in; S2MM: updated weights out)
    and `perturbed_dma` (S2MM: perturbed weights out); buffers come from `allocate`."""

    def __init__(self, mmio, weights_dma, perturbed_dma, allocate=np.zeros):
        self.mmio, self.weights_dma, self.perturbed_dma, self.allocate = mmio, weights_dma, perturbed_dma, allocate
        if self.read("ID") != ENGINE_ID:
            raise EngineError(f"the IP at this address reads ID {self.read('ID'):#010x}, not the engine's "
                              f"{ENGINE_ID:#010x}")
        info = fields(MAP, "INFO", self.read("INFO"))
        self.lanes, self.length_bits, self.hop_bits = info["lanes"], info["length_bits"], info["hop_bits"]
        self.fmt = {code: name for name, code in FORMAT_CODES.items()}[info["format"]]
        self.count, self.buffers = 0, None

    # -- registers ------------------------------------------------------------------------------------------------

    def read(self, name):
        return int(self.mmio.read(REGISTER[name]))

    def write(self, name, value):
        self.mmio.write(REGISTER[name], int(value))

    def status(self):
        """{busy, length_error, passes, errors}."""
        status = {name: bool(value) for name, value in fields(MAP, "STATUS", self.read("STATUS")).items()}
        return {**status, "passes": self.read("PASSES"), "errors": self.read("ERRORS")}

    def check(self):
        """Raise EngineError if the engine flagged a transfer of the wrong length (the flag stays set)."""
        if self.read("STATUS") & LENGTH_ERROR:
            raise EngineError(f"a weight transfer's tlast disagreed with LENGTH={self.read('LENGTH')} beats "
                              f"({self.read('ERRORS')} beats wrong so far); clear_errors() once handled")

    def clear_errors(self):
        self.write("STATUS", LENGTH_ERROR)

    # -- weights --------------------------------------------------------------------------------------------------

    def load(self, values, hop=0):
        """Store float32 `values` (converted to the engine's format: `to_bits`); see load_bits."""
        self.load_bits(to_bits(values, self.fmt), hop)

    def load_bits(self, bits, hop=0):
        """Put the format's `bits` (the trainable values in the stream's order) into a DMA buffer, zero-padded to
        whole beats, and set LENGTH to the beats and HOP to `hop` (the words the generator skips after each
        perturbation; pezo's choice for a model is golden/stream.py's `hop`)."""
        bits = np.asarray(bits).reshape(-1)
        beats = -(-bits.size // self.lanes)
        if not 1 <= beats < 1 << self.length_bits:
            raise ValueError(f"{bits.size} values are {beats} beats of {self.lanes}: allowed 1 .. "
                             f"{(1 << self.length_bits) - 1} beats")
        if hop and not 0 <= hop < 1 << self.hop_bits:
            raise ValueError(f"hop={hop} is out of range: this engine takes 0 .. {(1 << self.hop_bits) - 1}")
        self.count = bits.size
        self.buffers = {name: self.allocate((beats * self.lanes,), DTYPES[self.fmt])
                        for name in ("weights", "updated", "perturbed")}
        self.buffers["weights"][:] = 0
        self.buffers["weights"][:bits.size] = bits
        self.write("LENGTH", beats)
        if self.hop_bits:
            self.write("HOP", hop)

    def bits(self):
        """The weights' bits as the engine's memory holds them (a copy, without padding)."""
        return np.array(self.buffers["weights"][:self.count])

    def values(self):
        return from_bits(self.bits(), self.fmt)

    # -- passes and steps -----------------------------------------------------------------------------------------

    def run_pass(self, mode, c=0, d=ONE):
        """One pass over the weights in `mode` (perturb-plus, perturb-minus or update; c and d as fp32 bits);
        returns its output buffer (after an update, the new weights). Raises EngineError on a length error."""
        if self.buffers is None:
            raise EngineError("no weights: load() them first")
        self.write("MODE", MODES[mode])
        self.write("C", c)
        self.write("D", d)
        updating = mode == "update"
        output = self.buffers["updated" if updating else "perturbed"]
        receiver = (self.weights_dma if updating else self.perturbed_dma).recvchannel
        receiver.transfer(output)
        self.weights_dma.sendchannel.transfer(self.buffers["weights"])
        self.weights_dma.sendchannel.wait()
        self.check()
        receiver.wait()
        self.check()
        if updating:
            self.buffers["weights"], self.buffers["updated"] = output, self.buffers["weights"]
        return output

    def perturbed(self, sign, e):
        """theta + sign 2^-e u as float32 values (a perturb pass)."""
        self.write("E", e)
        output = self.run_pass("perturb-plus" if sign > 0 else "perturb-minus")
        return from_bits(output[:self.count], self.fmt)

    def step(self, loss, lr, e, weight_decay=0.0):
        """One ZO-SGD step as pezo's trainer takes it with the engine's numerics: L+ and L- from `loss` on the two
        perturbed passes, then the update with `step_scalars`' c and d. Returns (L+, L-, g)."""
        loss_plus = float(np.float32(loss(self.perturbed(1, e))))
        loss_minus = float(np.float32(loss(self.perturbed(-1, e))))
        grad, c, d = step_scalars(loss_plus, loss_minus, lr, e, weight_decay)
        self.run_pass("update", c, d)
        return loss_plus, loss_minus, grad
