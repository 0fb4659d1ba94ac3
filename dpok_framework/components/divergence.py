"""Base class for divergences between batched categorical distributions."""

from __future__ import annotations

import math

from typing import ClassVar

import torch

from .base import Component, Params


class Divergence(Component, torch.nn.Module):
    """D(p || q) between categorical distributions given as log-probabilities over the last dim.

    ``forward(logp, logq)`` takes ``[..., V]`` log-probabilities (``-inf`` allowed for zero mass)
    and returns ``[...]``. In the engine ``p`` is the policy and ``q`` the reference.

    Declared axioms (checked automatically by the generic property suite for every registered
    divergence, third-party ones included):

    * ``symmetric``: D(p, q) == D(q, p).
    * ``upper_bound``: D(p, q) <= upper_bound for all p, q (None if unbounded).
    * ``is_f_divergence``: D = sum_v q_v f(p_v / q_v) for a convex f with f(1) = 0; such
      divergences obey the data-processing inequality and joint convexity.
    * ``has_link``: the divergence can replace reverse KL inside the DPO sigmoid through the f-DPO
      link ``psi(r) = f'(exp(r))`` (Wang et al. 2023); others may only be used as a penalty.
    * ``link_scale``: for f-divergences with a link, ``link(r) = link_scale * f'(exp r) + const``
      (a positive scale only rescales beta; ``js`` uses f-DPO's link, which is 2 f' of JS).
      Links must be finite in value and gradient for any finite float32 ``r`` (summed log-ratios reach
      hundreds of nats); first-party exponential links follow their formula while the exponent is <= 30
      and its tangent beyond (``dpok_framework.components.finiteness`` holds the reusable checks).

    * ``link_exact_within``: |r| up to which ``link(r)`` equals ``link_scale * f'(exp r) + const``
      exactly (default: everywhere); beyond it a documented clamp may take over (e.g. the first-party
      links' tangent past an exponent of 30, which ends at |r| = 30 / |a| for an exponent a * r). The
      contract checks the link against the divergence's gradient only inside it.
    * ``tolerance``: absolute accuracy of the values (0: exact up to rounding).  An iterative solver
      (e.g. Sinkhorn) declares its tolerance; identity, sign, symmetry and bound are checked within it.

    The axioms are class attributes; a divergence whose axioms depend on its params (e.g. a Renyi
    order of 1/2 is symmetric) may refine them per instance in ``__init__``. The generic property
    suite reads them from the instance.
    """

    kind: ClassVar[str] = "divergence"
    symmetric: ClassVar[bool] = False
    upper_bound: ClassVar[float | None] = None
    is_f_divergence: ClassVar[bool] = False
    has_link: ClassVar[bool] = False
    link_scale: ClassVar[float] = 1.0
    link_exact_within: ClassVar[float] = math.inf
    tolerance: ClassVar[float] = 0.0

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        torch.nn.Module.__init__(self)
        self._init_params(params, kwargs)

    def forward(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @classmethod
    def has_link_for(cls, params: Params) -> bool:
        """Whether instances built with ``params`` have a usable link (default: ``has_link``).

        Config validation calls this, so a divergence whose link depends on its params (e.g.
        ``f_divergence`` with ``f: total_variation``) is rejected as a link before training starts.
        """
        return cls.has_link

    def link(self, r: torch.Tensor) -> torch.Tensor:
        """psi(r) = f'(exp(r)) applied to log-ratios r = log pi(y|x) - log pi_ref(y|x)."""
        raise NotImplementedError(
            f"divergence {self.name!r} has no f-DPO link; use it as `divergence.penalty`, not `divergence.link`"
        )

    def bind_token_embeddings(self, weight: torch.Tensor) -> None:
        """Receive the model's token-embedding matrix ``[V, d]`` (for geometry-aware divergences)."""
        return None
