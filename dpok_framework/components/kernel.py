"""Base class for kernels on embeddings: K(x, y) >= 0, PSD, strictly positive where a log is taken."""

from __future__ import annotations

from typing import ClassVar

import torch

from .base import Component, Params


class Kernel(Component, torch.nn.Module):
    """A positive-definite kernel on embedding vectors.

    Shapes: ``x``/``y`` are ``[n, d]`` (``[m, d]`` for the second argument of :meth:`pairwise`).

    Subclasses implement :meth:`pairwise` and :meth:`log_paired`; :meth:`paired` defaults to
    ``exp(log_paired)``.  Kernels with learnable parameters register them as ``torch.nn.Parameter``
    so the engine puts them in the optimiser.  Data-dependent hyper-parameters (a median bandwidth,
    a covariance) are set by :meth:`fit`.

    Class attributes read by the framework:

    * ``shift_invariant``: ``K(x, y) = k(x - y)``; such kernels implement :meth:`sample_frequencies`
      so Random Fourier Features apply.
    * ``group``: ``"local"`` or ``"global"`` (the paper's taxonomy), informational.
    * ``strictly_positive``: K(x, y) > 0 for every pair, so ``log_paired`` is finite everywhere (the
      kernel property suite checks it).  Kernels that can be <= 0 (``linear``) set it False; an
      instance may override it when positivity depends on its params.
    * ``uses_covariance``: the kernel consumes an embedding covariance; such kernels implement
      :meth:`set_covariance`, e.g. to take a differentially private release.
    """

    kind: ClassVar[str] = "kernel"
    shift_invariant: ClassVar[bool] = False
    group: ClassVar[str] = ""
    strictly_positive: ClassVar[bool] = True
    uses_covariance: ClassVar[bool] = False

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        torch.nn.Module.__init__(self)
        self._init_params(params, kwargs)

    # -- evaluation -------------------------------------------------------------------------
    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Gram matrix ``[n, m]`` with entries K(x_i, y_j)."""
        raise NotImplementedError

    def log_paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``[n]`` values log K(x_i, y_i), computed without forming K first where it can underflow."""
        raise NotImplementedError

    def paired(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``[n]`` values K(x_i, y_i)."""
        return self.log_paired(x, y).exp()

    def log_diag(self, x: torch.Tensor) -> torch.Tensor:
        """``[n]`` values log K(x_i, x_i) (used to cosine-normalise a kernel); default ``log_paired(x, x)``."""
        return self.log_paired(x, x)

    def log_ratio(self, e_x: torch.Tensor, e_pos: torch.Tensor, e_neg: torch.Tensor) -> torch.Tensor:
        """``[n]`` log K(e_x, e_pos) - log K(e_x, e_neg): the kernel term of the DPO-Kernels margin."""
        return self.log_paired(e_x, e_pos) - self.log_paired(e_x, e_neg)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.pairwise(x, y)

    # -- optional hooks ---------------------------------------------------------------------
    def fit(self, embeddings: torch.Tensor) -> "Kernel":
        """Set data-dependent hyper-parameters from ``[N, d]`` embeddings; default: nothing to fit."""
        return self

    def set_covariance(self, cov: torch.Tensor, mean: torch.Tensor | None = None) -> "Kernel":
        """Use ``cov [d, d]`` (e.g. a DP release) as the embedding covariance; :meth:`fit` keeps it.
        Only kernels with ``uses_covariance = True`` implement this."""
        raise TypeError(f"kernel {self.name!r} does not use a covariance (uses_covariance=False)")

    def regularizer(self) -> torch.Tensor | None:
        """A scalar the engine adds to the loss (times ``kernel.entropy_weight``), or None."""
        return None

    def mixture_weights(self) -> dict[str, float]:
        """Current mixture weights by component name (for ``kernel/weights/<name>``); {} if none."""
        return {}

    def sample_frequencies(self, num_features: int, dim: int, generator: torch.Generator | None = None
                           ) -> tuple[torch.Tensor, float]:
        """For shift-invariant kernels: ``(omega [num_features, dim], k0)`` with omega drawn from the
        kernel's normalised spectral density, so ``K(x, y) = k0 * E[cos(omega . (x - y))]``."""
        raise NotImplementedError(f"kernel {self.name!r} is not shift-invariant: use Nystrom instead of RFF")
