"""pezo: perturbation-efficient zeroth-order fine-tuning, from bit-level spec to RTL and trainer."""
__version__ = "0.1.0"
