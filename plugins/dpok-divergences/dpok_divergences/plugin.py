"""Entry-point module: registers the first-party divergences."""

from dpok_framework import hookimpl

from .bhattacharyya import Bhattacharyya
from .f_divergence import NamedFDivergence
from .forward_kl import ForwardKL
from .hellinger import Hellinger
from .js import JS
from .kl import KL
from .renyi import Renyi
from .wasserstein import Wasserstein


@hookimpl
def register_divergences(register):
    for cls in (KL, ForwardKL, JS, Hellinger, Renyi, Bhattacharyya, Wasserstein, NamedFDivergence):
        register(cls)
