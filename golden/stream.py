"""The golden stream: bit-exact integer words for checking hardware, real values for training.

Word w carries `lanes` mantissas and one exponent; its real values are mantissa * 2^exponent. A perturbation of
d values occupies ceil(d / lanes) whole words starting at its first word; the unused lanes of its last word are
dropped, and the next perturbation starts at the following word (leftover shifting, docs/spec.md), or, with a
`hop` input (spec.hop_bits), `hop` words later.
"""
import math

import torch

PERIOD_CACHE_VALUES = 1 << 27
BLOCK_VALUES = 1 << 24
CHUNK_VALUES = 1 << 21
KEPT_VALUES = 1 << 24


def words_per_perturbation(spec, values):
    """Whole words a perturbation of `values` values consumes."""
    return math.ceil(values / spec.lanes)


def hop(spec, values):
    """The `hop` input pezo sets for perturbations of `values` values: 0 without a hop input, else the smallest h
    below 2^hop_bits with gcd(W + h, spec.period_words) = 1 (W the words of one perturbation), so that the starts
    of consecutive perturbations visit every word of the period. ValueError when no such h fits."""
    if not spec.hop_bits:
        return 0
    words = words_per_perturbation(spec, values)
    for h in range(1 << spec.hop_bits):
        if math.gcd(words + h, spec.period_words) == 1:
            return h
    raise ValueError(f"{spec.label}: no hop below 2^{spec.hop_bits} makes {words} + hop coprime with the period "
                     f"of {spec.period_words} words: allowed a larger hop_bits")


def words_per_step(spec, values):
    """Words from the start of one perturbation of `values` values to the start of the next: W + hop."""
    return words_per_perturbation(spec, values) + hop(spec, values)


def to_values(mantissas, exponents):
    """Real values mantissa * 2^exponent as float32 (exact: mantissas have at most 24 bits)."""
    return torch.ldexp(mantissas.to(torch.float32), exponents[:, None].to(torch.float32))


class Stream:
    """The word stream of one spec, at any position, without stepping through it cycle by cycle.

    The stream is periodic (spec.period_words words of spec.lanes values). When a period has at most
    PERIOD_CACHE_VALUES values (512 MiB of float32: every pool; otf specs where lcm(2^width - 1, generators) *
    generators fits, e.g. every count up to 64 at 15 bits or less, and 31 or 63 LFSRs of 16 bits) its real values
    are computed once, in chunks of the whole words of CHUNK_VALUES values (at least one word), tiled to a block of
    at least BLOCK_VALUES (64 MiB), and later requests are a few large copies out of that block (many small copies
    run far below memory bandwidth). A longer period (a clt stream's: 2^63 - 1 words) is computed chunk by chunk,
    many times slower; the latest chunks are kept (up to KEPT_VALUES values, 64 MiB, the oldest dropped first), so
    that the passes of a ZO step, which read one perturbation four times (+eps, -2 eps, +eps, the update), compute
    it once where it fits. The block lives on `device`, and real
    values are returned there, so a perturbation on a GPU is a copy within it, never one from the host.
    """

    def __init__(self, spec, scaled=True, device="cpu"):
        """scaled=False makes the real values the raw mantissas (exponent ignored), as in the PeZO paper's
        unscaled ablation; the integer words are the same either way."""
        self.spec = spec
        self.scaled = scaled
        self.device = torch.device(device)
        self.words = spec.words()
        self._block_values = None
        self._kept, self._kept_values = {}, 0         # (first word, words) -> their real values, oldest first

    def __call__(self, start, count):
        """(mantissas int64[count, lanes], exponents int64[count]) of words start .. start + count - 1."""
        return self.words(start, count)

    @property
    def period_values(self):
        return self.spec.period_words * self.spec.lanes

    def values(self, first, count, out=None):
        """Real values `first` .. `first + count - 1` of the flattened stream (value v is word v // lanes, lane
        v % lanes) as float32, written into `out` if given."""
        out = torch.empty(count, dtype=torch.float32, device=self.device) if out is None else out
        return self._fill(out, first, count, self._block() if self.period_values <= PERIOD_CACHE_VALUES else None)

    def perturbation(self, start_word, values, out=None):
        """The vector u of one perturbation of `values` values that starts at word `start_word`."""
        return self.values(start_word * self.spec.lanes, values, out)

    def _real(self, start, count):
        """Real values of words start .. start + count - 1, flattened."""
        mantissas, exponents = self.words(start, count)
        return (to_values(mantissas, exponents) if self.scaled else mantissas.to(torch.float32)).view(-1)

    def _fill(self, out, first, count, block):
        """Write values first .. first + count - 1 into `out`: copied out of `block` (the cached periods), or
        without one computed, a chunk of words at a time."""
        offset, done, chunk_words = first % self.period_values, 0, max(1, CHUNK_VALUES // self.spec.lanes)
        while done < count:
            if block is None:
                word, start = divmod(offset, self.spec.lanes)
                words = min(chunk_words, math.ceil((start + count - done) / self.spec.lanes))
                chunk = self._chunk(word, words, out.device)
            else:
                chunk, start = block, offset
            stop = min(start + count - done, chunk.numel())
            out[done:done + stop - start] = chunk[start:stop]
            done += stop - start
            offset = (offset + stop - start) % self.period_values
        return out

    def _chunk(self, word, words, device):
        """The real values of words word .. word + words - 1 on `device`: kept from an earlier request where they
        were, and kept for later ones where the stream has no period block."""
        key = (word, words)
        if key in self._kept:
            return self._kept[key]
        chunk = self._real(word, words).to(device)
        if self.period_values > PERIOD_CACHE_VALUES and chunk.numel() <= KEPT_VALUES:   # not while building a block
            self._kept[key], self._kept_values = chunk, self._kept_values + chunk.numel()
            while self._kept_values > KEPT_VALUES:
                self._kept_values -= self._kept.pop(next(iter(self._kept))).numel()
        return chunk

    def _block(self):
        if self._block_values is None:
            period = self._fill(torch.empty(self.period_values, dtype=torch.float32), 0, self.period_values, None)
            tiles = math.ceil(BLOCK_VALUES / period.numel())
            self._block_values = (period.repeat(tiles) if tiles > 1 else period).to(self.device)
        return self._block_values
