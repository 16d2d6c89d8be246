"""Bit-exact golden model of the PeZO perturbation stream (the contract's executable half)."""
from .spec import OtfSpec, PerturbSpec, PoolSpec, RegularPatternWarning, SpecError
from .stream import Stream, words_per_perturbation

__all__ = ["OtfSpec", "PerturbSpec", "PoolSpec", "RegularPatternWarning", "SpecError", "Stream",
           "words_per_perturbation"]
