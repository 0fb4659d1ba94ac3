"""Entry-point module: registers the first-party privacy wrappers."""

from dpok_framework import hookimpl

from .covariance import DPCovariance


@hookimpl
def register_privacy_wrappers(register):
    register(DPCovariance)
