"""Entry-point module: registers the first-party divergences."""

from dpok_framework import hookimpl

from .kl import KL


@hookimpl
def register_divergences(register):
    register(KL)
