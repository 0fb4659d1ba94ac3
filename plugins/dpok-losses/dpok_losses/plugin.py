"""Entry-point module: registers the first-party preference losses."""

from dpok_framework import hookimpl

from .sigmoid import SigmoidLoss


@hookimpl
def register_losses(register):
    register(SigmoidLoss)
