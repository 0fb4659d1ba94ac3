"""Entry-point module: registers the first-party preference losses."""

from dpok_framework import hookimpl

from .hinge import HingeLoss
from .ipo import IPOLoss
from .robust import RobustLoss
from .sigmoid import SigmoidLoss


@hookimpl
def register_losses(register):
    for cls in (SigmoidLoss, IPOLoss, HingeLoss, RobustLoss):
        register(cls)
