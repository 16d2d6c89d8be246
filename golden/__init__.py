"""Bit-exact golden model of the PeZO perturbation stream (the contract's executable half)."""
from .spec import PAPER_DEFAULTS, CltSpec, OtfSpec, PerturbSpec, PoolSpec, RegularPatternWarning, SpecError
from .stream import Stream, words_per_perturbation

__all__ = ["PAPER_DEFAULTS", "CltSpec", "OtfSpec", "PerturbSpec", "PoolSpec", "RegularPatternWarning", "SpecError",
           "Stream", "words_per_perturbation"]
