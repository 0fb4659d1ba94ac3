"""First-party dpok divergences, registered through the `dpok` entry point like any third-party plugin.

Registered names: kl, forward_kl, js, hellinger, renyi, bhattacharyya, wasserstein, f_divergence.
Third-party f-divergences subclass :class:`FDivergence` (implement ``f`` and ``f_prime``).
"""

from .alpha import AlphaDivergence
from .bhattacharyya import Bhattacharyya
from .chi2 import NeymanChi2, PearsonChi2
from .f_divergence import GENERATORS, NamedFDivergence
from .fdiv_base import FDivergence
from .forward_kl import ForwardKL
from .hellinger import Hellinger
from .js import JS
from .kl import KL
from .renyi import Renyi
from .sinkhorn import entropic_ot, sinkhorn_divergence
from .total_variation import TotalVariation
from .wasserstein import Wasserstein, ordered_w1

__all__ = ["AlphaDivergence", "Bhattacharyya", "FDivergence", "ForwardKL", "GENERATORS", "Hellinger", "JS", "KL",
           "NamedFDivergence", "NeymanChi2", "PearsonChi2", "Renyi", "TotalVariation", "Wasserstein",
           "entropic_ot", "ordered_w1", "sinkhorn_divergence"]
