"""``loss:``, ``kernel:`` and ``divergence:`` sections: the DPO-Kernels objective.

margin m = beta * (psi(r+) - psi(r-)) + gamma * (log K(e_x, e_y+) - log K(e_x, e_y-))
loss     = loss_fn(m) + alpha * D(pi || pi_ref) + entropy_weight * kernel.regularizer()
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import ComponentSpec, Section


class LossConfig(ComponentSpec):
    name: str = "sigmoid"
    beta: float = Field(0.1, gt=0.0, description="Inverse temperature of the probability term.")


class KernelConfig(Section):
    name: str | None = Field(None, description="Registered kernel, `auto` (data-driven selection) or null "
                                                 "for no kernel term.")
    params: dict = Field(default_factory=dict)
    gamma: float = Field(0.0, ge=0.0, description="Weight of the kernel log-ratio in the margin.")
    entropy_weight: float = Field(0.0, ge=0.0, description="eta: weight of the kernel's regulariser "
                                                           "(HMK: negative weight entropy).")
    embedder: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="policy_hidden"))
    fit_samples: int = Field(256, gt=1, description="Training pairs used to fit data-dependent kernel "
                                                     "parameters (median bandwidth, covariance).")
    lr: float | None = Field(0.05, gt=0.0, description="Learning rate of the kernel's own parameters (HMK "
                                                        "mixture logits, learnable bandwidths); null: "
                                                        "training.lr. The default moves a logit by up to ~1 "
                                                        "in 20 Adam steps, so mixtures learn in a short run; "
                                                        "a policy lr (~1e-5) would leave them at their init.")


class DivergenceConfig(Section):
    link: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="kl"),
                                description="f-divergence whose link psi(r) = f'(exp r) replaces r "
                                            "(`kl`, i.e. KL(pi || pi_ref), gives plain DPO).")
    penalty: ComponentSpec | None = Field(None, description="Divergence added as an explicit token-level "
                                                            "penalty D(pi || pi_ref).")
    alpha: float = Field(0.0, ge=0.0, description="Weight of the explicit penalty.")
    penalty_top_k: int | None = Field(None, gt=0, description="Restrict the penalty to the union of both "
                                                               "distributions' top-k tokens (memory-lean).")
    penalty_on: Literal["chosen", "both"] = "both"
