"""Entry-point module: registers the first-party kernels."""

from dpok_framework import hookimpl

from .linear import LinearKernel


@hookimpl
def register_kernels(register):
    register(LinearKernel)
