"""ZO fine-tuning with any ZO method and any perturbation source (MeZO's Gaussians or the exact stream of a PeZO
generator), for any torch model; plus the few-shot training runs of `pezo train`.

    import pezo.train as zo
    optimizer = zo.make("zo-adam", model, zo.source("pezo-otf"), lr=1e-4, eps=1e-3)
    for batch in batches:
        loss = optimizer.step(lambda: loss_fn(model, batch))     # forward passes only
"""
from . import perturbations
from .methods import ZOAdam, ZOSGD, ZOSGDCons, ZOSGDMomentum, ZOSGDSign
from .block import BlockZO
from .sparse import SparseMeZO, ZOSGDSparse
from .dizo import DiZO
from .forward_grad import ForwardGrad
from .hizoo import HiZOO
from .kerzoo import KerZOO
from .perturbations import NAMES as SOURCES
from .perturbations import make as source
from .zo import METHODS, Estimate, NonFiniteLoss, ZOOptimizer, make

__all__ = ["BlockZO", "DiZO", "Estimate", "ForwardGrad", "HiZOO", "KerZOO", "METHODS", "NonFiniteLoss", "SOURCES",
           "SparseMeZO", "ZOAdam", "ZOOptimizer", "ZOSGD", "ZOSGDCons", "ZOSGDMomentum", "ZOSGDSign", "ZOSGDSparse",
           "make", "perturbations", "source"]
