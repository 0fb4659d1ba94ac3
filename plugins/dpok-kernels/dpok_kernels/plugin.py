"""Entry-point module: registers the first-party kernels."""

from dpok_framework import hookimpl

from .hmk import HMKKernel
from .linear import LinearKernel
from .mahalanobis import MahalanobisKernel
from .polynomial import PolynomialKernel
from .rbf import RBFKernel
from .spectral import SpectralKernel


@hookimpl
def register_kernels(register):
    for cls in (LinearKernel, PolynomialKernel, RBFKernel, SpectralKernel, MahalanobisKernel, HMKKernel):
        register(cls)
