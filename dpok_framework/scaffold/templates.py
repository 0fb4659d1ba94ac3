"""Skeletons written by ``dpok plugins new``: one correct, documented component per kind (each passes the
contract as written), with ``{cls}``, ``{name}`` placeholders.  Edit the maths, keep the declarations true."""

HEADER = '''"""{summary}

Registered under the name ``{name}`` through the ``dpok`` entry point in pyproject.toml.  Run the dpok
contract on it with ``pytest`` (tests/test_dpok_contract.py) or ``dpok plugins check {name}``; dpok also
checks the declared properties at run time before it uses the component.
"""

from __future__ import annotations

'''

KERNEL = HEADER + '''import torch
from pydantic import Field

from dpok_framework import hookimpl
from dpok_framework.components import Kernel, Params


class {cls}Params(Params):
    """Validated params: the component reads them as ``self.params.<field>`` (every field needs a default)."""

    sigma: float = Field(1.0, gt=0.0, description="Bandwidth sigma > 0.")


class {cls}(Kernel):
    """K(x, y) = exp(-||x - y||^2 / (2 sigma^2)): PSD, K > 0, K(x, x) = 1."""

    name = "{name}"
    summary = "Gaussian kernel (from the dpok scaffold)"
    Params = {cls}Params
    shift_invariant = True     # K(x, y) = k(x - y): implement sample_frequencies (random features)
    strictly_positive = True   # K > 0 everywhere: log_paired must be finite

    def pairwise(self, x, y):  # [n, d], [m, d] -> [n, m]
        d2 = (x * x).sum(-1)[:, None] + (y * y).sum(-1)[None, :] - 2.0 * x @ y.T
        return torch.exp(-d2.clamp_min(0.0) / (2.0 * self.params.sigma ** 2))

    def log_paired(self, x, y):  # [n, d], [n, d] -> [n], log K without forming K (no underflow)
        return -((x - y) ** 2).sum(-1) / (2.0 * self.params.sigma ** 2)

    def log_diag(self, x):  # [n]: log K(x_i, x_i) = 0
        return x.new_zeros(x.shape[0])

    def sample_frequencies(self, num_features, dim, generator=None):
        """omega ~ N(0, sigma^-2 I), the kernel's normalised spectral density; k0 = K(x, x) = 1."""
        omega = torch.randn(num_features, dim, generator=generator, dtype=torch.float64) / self.params.sigma
        return omega, 1.0


@hookimpl
def register_kernels(register):
    register({cls})
'''

DIVERGENCE = HEADER + '''import torch

from dpok_framework import hookimpl
from dpok_framework.components import Divergence, Params


class {cls}Params(Params):
    """Validated params (none here); unknown fields are errors."""


class {cls}(Divergence):
    """Squared Hellinger distance H^2(p, q) = 1 - sum_v sqrt(p_v q_v), in [0, 1]; f(u) = (sqrt(u) - 1)^2 / 2."""

    name = "{name}"
    summary = "squared Hellinger distance (from the dpok scaffold)"
    Params = {cls}Params
    symmetric = True          # the contract checks every declaration: D(p, q) == D(q, p)
    upper_bound = 1.0         # D <= 1, attained on disjoint supports
    is_f_divergence = True    # data processing and joint convexity are checked
    has_link = True           # usable as divergence.link: link(r) = f'(exp r)

    def forward(self, logp, logq):  # [..., V] log-probabilities (-inf: zero mass) -> [...]
        return 1.0 - torch.exp(0.5 * (logp + logq)).sum(-1)

    def link(self, r):  # psi(r) = f'(exp r) = (1 - exp(-r / 2)) / 2
        # summed log-ratios reach hundreds of nats: the contract wants a finite link (and gradient) for
        # |r| <= 1e4, so exp(e) is continued by its tangent past e = 30 (exact below)
        e = -0.5 * r
        ec = e.clamp(max=30.0)
        return 0.5 * (1.0 - torch.exp(ec) * (1.0 + (e - ec)))


@hookimpl
def register_divergences(register):
    register({cls})
'''

LOSS = HEADER + '''import math

import torch.nn.functional as F

from dpok_framework import hookimpl
from dpok_framework.components import Params, PreferenceLoss


class {cls}Params(Params):
    """Validated params (none here)."""


class {cls}(PreferenceLoss):
    """L(m) = -log sigmoid(m) = softplus(-m): the Bradley-Terry (DPO) loss; L(0) = log 2."""

    name = "{name}"
    summary = "-log sigmoid(m) (from the dpok scaffold)"
    Params = {cls}Params
    non_increasing = True  # a larger margin never costs more (checked over extreme margins)

    def forward(self, margin, beta):  # [B] margins -> [B] losses; beta for losses on the unscaled log-ratio
        return F.softplus(-margin)

    def documented_values(self):  # (margin, beta, loss) points the contract checks exactly
        return [(0.0, 0.1, math.log(2.0))]


@hookimpl
def register_losses(register):
    register({cls})
'''

SELECTION_METRIC = HEADER + '''import math

import torch

from dpok_framework import hookimpl
from dpok_framework.components import Params, SelectionMetric
from dpok_framework.components.selection import MetricValue


class {cls}Params(Params):
    """Validated params (none here)."""


class {cls}(SelectionMetric):
    """Signal-to-noise of the kernel log-ratio k_i = log K(x_i, y+_i) - log K(x_i, y-_i): mean(k) / std(k).

    Scores one candidate kernel on ``KernelEvidence`` (``evidence.e_x``, ``e_pos``, ``e_neg``: ``[N, d]``);
    invariant to the order of the pairs and to a positive rescaling of log K.
    """

    name = "{name}"
    summary = "mean / std of the kernel log-ratio (from the dpok scaffold)"
    Params = {cls}Params
    target = "kernel"          # or "divergence" (then evidence is DivergenceEvidence: logp, logq [M, V])
    higher_is_better = True    # the ranking's direction
    reports_se = True          # every value carries details["se"]; the ranking ties values within 2 se
    favours = "kernels whose chosen-vs-rejected log-ratio is large relative to its spread"

    def compute(self, candidate, evidence):
        with torch.no_grad():
            k = candidate.log_ratio(evidence.e_x, evidence.e_pos, evidence.e_neg).to(torch.float64)  # [N]
        n, std = k.numel(), float(k.std())
        if not std > 0.0:
            return MetricValue(math.nan, veto="the log-ratio is constant on these pairs")
        value = float(k.mean()) / std
        return MetricValue(value, details={{"se": math.sqrt((1.0 + 0.5 * value ** 2) / n)}})


@hookimpl
def register_selection_metrics(register):
    register({cls})
'''

EMBEDDER = HEADER + '''import torch
from pydantic import Field

from dpok_framework import hookimpl
from dpok_framework.components import Embedder, Params


class {cls}Params(Params):
    normalize: bool = Field(True, description="L2-normalise the pooled embeddings.")


class {cls}(Embedder):
    """Masked mean of the policy's final hidden states over prompt / completion positions."""

    name = "{name}"
    summary = "mean-pooled policy hidden states (from the dpok scaffold)"
    Params = {cls}Params
    uses_policy_hidden = True  # pool_hidden gets the training forward's hidden states (gradient flows)

    def pool_hidden(self, hidden, prompt_mask, completion_mask):  # [B, T, H], [B, T], [B, T]
        def pool(mask):
            w = mask.to(hidden.dtype).unsqueeze(-1)  # [B, T, 1]
            e = (hidden * w).sum(1) / w.sum(1).clamp_min(1.0)  # [B, H]
            return torch.nn.functional.normalize(e, dim=-1) if self.params.normalize else e

        return pool(prompt_mask), pool(completion_mask)


@hookimpl
def register_embedders(register):
    register({cls})
'''

PRIVACY_WRAPPER = HEADER + '''import math
from typing import Any

import torch
from pydantic import Field

from dpok_framework import hookimpl
from dpok_framework.components import PrivacyWrapper
from dpok_framework.components.privacy import CovarianceRelease, PrivacyBudgetExceeded, PrivacyParams


class {cls}Params(PrivacyParams):
    """epsilon, delta, clip, max_epsilon come from the ``privacy:`` config section (PrivacyParams)."""

    epsilon: float = Field(0.5, gt=0.0, lt=1.0, description="Per-release epsilon (< 1: classical Gaussian mechanism).")


class {cls}(PrivacyWrapper):
    """Gaussian mechanism on T = sum_i e_i e_i^T of clipped rows, replace-one neighbouring (N public).

    Replacing one record (k rows, ||e|| <= C) changes T by at most 2 k C^2 in Frobenius norm (the sensitivity);
    noise std = sensitivity * sqrt(2 ln(1.25 / delta)) / epsilon (Dwork & Roth, Thm A.1, epsilon < 1), added as
    the symmetric (G + G^T) / 2.  Each release spends (epsilon, delta) (basic composition); a release past
    max_epsilon is refused before any noise is drawn.
    """

    name = "{name}"
    summary = "Gaussian-mechanism DP second moment (from the dpok scaffold)"
    Params = {cls}Params

    def __init__(self, params=None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.count = 0
        self._generator = torch.Generator().manual_seed(torch.seed())

    def _rows(self, embeddings) -> tuple[torch.Tensor, int]:  # [N, d] or [N, k, d] -> clipped [N*k, d], k
        x = torch.as_tensor(embeddings).detach().to(torch.float64)
        k = 1 if x.ndim == 2 else x.shape[1]
        x = x.reshape(-1, x.shape[-1])
        return x * (self.params.clip / x.norm(dim=1, keepdim=True).clamp_min(self.params.clip)), k

    def statistic(self, embeddings) -> torch.Tensor:
        x, _ = self._rows(embeddings)
        return x.T @ x  # [d, d]

    def sensitivity(self, rows_per_record: int = 1) -> float:
        return 2.0 * rows_per_record * self.params.clip ** 2

    def noise_std(self, rows_per_record: int = 1) -> float:
        p = self.params
        return self.sensitivity(rows_per_record) * math.sqrt(2.0 * math.log(1.25 / p.delta)) / p.epsilon

    def release_covariance(self, embeddings) -> CovarianceRelease:
        p = self.params
        if (self.count + 1) * p.epsilon > p.budget * (1 + 1e-12):
            raise PrivacyBudgetExceeded(f"{{self.name}}: release #{{self.count + 1}} would spend epsilon "
                                        f"{{(self.count + 1) * p.epsilon:g}} > budget {{p.budget:g}}; nothing released")
        x, k = self._rows(embeddings)
        d = x.shape[1]
        g = torch.randn(d, d, generator=self._generator, dtype=torch.float64) * self.noise_std(k)
        t = x.T @ x + (g + g.T) / 2  # [d, d] noisy statistic
        self.count += 1
        vals, vecs = torch.linalg.eigh(t / x.shape[0])
        floor = 1e-3 * p.clip ** 2 / d
        cov = (vecs * vals.clamp(floor, p.clip ** 2)) @ vecs.T  # SPD post-processing
        cov = (cov + cov.T) / 2
        return CovarianceRelease(mean=None, cov=cov, epsilon_spent=self.count * p.epsilon, delta=p.delta,
                                 index=self.count, statistic=t)

    def spent(self) -> tuple[float, float]:
        return (self.count * self.params.epsilon, self.params.delta) if self.count else (0.0, 0.0)

    def to_json(self) -> dict[str, Any]:
        return {{**super().to_json(), "releases": self.count}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = int(state["releases"])


@hookimpl
def register_privacy_wrappers(register):
    register({cls})
'''

SKELETONS = {"kernel": KERNEL, "divergence": DIVERGENCE, "loss": LOSS, "selection_metric": SELECTION_METRIC,
             "embedder": EMBEDDER, "privacy_wrapper": PRIVACY_WRAPPER}

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{summary}"
dependencies = ["dpok-framework"]

[project.optional-dependencies]
test = ["dpok-framework[test]"]

[project.entry-points.dpok]
{name} = "{module}"

[tool.setuptools]
packages = ["{module}"]
'''

TEST = '''"""The dpok contract for this package's components: what `dpok plugins check` and dpok's run-time admission
hold them to (equivalently: `pytest --dpok-contract={dist}`)."""

from dpok_framework.testing import contract_tests

test_contract = contract_tests("{dist}")
'''
