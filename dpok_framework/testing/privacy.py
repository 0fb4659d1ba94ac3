"""The privacy-wrapper contract: a release has the documented shapes and a symmetric positive-definite
covariance; accounting is monotone (spent epsilon is >= 0 and never falls over releases, a refused release charges
nothing, ``spent()`` and the state dict agree with the releases); and, for wrappers that expose their
mechanism (``statistic`` and ``noise_std``), the released statistic's noise has the declared standard
deviation (a chi-square test on repeated releases) and that standard deviation scales with the declared
``sensitivity`` (one record owning k rows is k times as sensitive)."""

from __future__ import annotations

import json
import math
from typing import Any, Callable

import torch

from .results import violated


def records(seed: int, n: int = 64, k: int = 3, d: int = 3, clip: float = 1.0) -> torch.Tensor:
    """``[n, k, d]`` float64 embeddings with row norms below ``clip``."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, k, d, generator=g, dtype=torch.float64)
    return x * (0.9 * clip / x.norm(dim=-1, keepdim=True).clamp_min(1.0))


def _with_budget(make: Callable[[], Any], factor: float):
    w = make()
    fields = w.params.model_dump()
    fields["max_epsilon"] = max(w.params.budget, w.params.epsilon) * factor
    return type(w)(type(w).Params(**fields))


def check_release_and_accounting(make: Callable[[], Any], seed: int, _raised: bool = False) -> None:
    from ..components.privacy import PrivacyBudgetExceeded

    w = make()
    x = records(seed, clip=w.params.clip)
    violated(w.spent()[0] == 0.0, "accounting", f"{w.name}: a fresh wrapper reports spent epsilon {w.spent()[0]}")
    history = []
    for _ in range(4):
        try:
            rel = w.release_covariance(x)
        except PrivacyBudgetExceeded:
            before = w.spent()
            try:
                w.release_covariance(x)
            except PrivacyBudgetExceeded:
                pass
            violated(w.spent() == before, "accounting", f"{w.name}: a refused release changed spent() from "
                                                        f"{before} to {w.spent()}")
            break
        cov = rel.cov.to(torch.float64)
        d = x.shape[-1]
        violated(tuple(cov.shape) == (d, d), "release_shape", f"{w.name}: cov has shape {tuple(cov.shape)}, expected {(d, d)}")
        violated(rel.mean is None or tuple(rel.mean.shape) == (d,), "release_shape",
                 f"{w.name}: mean has shape {tuple(getattr(rel.mean, 'shape', ()))}")
        violated(bool(torch.equal(cov, cov.T)) and float(torch.linalg.eigvalsh(cov)[0]) > 0, "release_spd",
                 f"{w.name}: cov not symmetric positive definite (lambda_min {float(torch.linalg.eigvalsh(0.5 * (cov + cov.T))[0]):.3g})")
        history.append(rel.epsilon_spent)
        violated(rel.epsilon_spent <= w.params.budget * (1 + 1e-6) + 1e-9, "accounting",
                 f"{w.name}: release #{len(history)} spent epsilon {rel.epsilon_spent:.6g} past the budget {w.params.budget:g}")
        violated(abs(w.spent()[0] - rel.epsilon_spent) <= 1e-9 * (1 + abs(rel.epsilon_spent)), "accounting",
                 f"{w.name}: spent() = {w.spent()} but the release reports {rel.epsilon_spent}")
    if not history and not _raised:
        # params whose own noise spends more than the budget in one release (e.g. a small fixed noise_multiplier):
        # the refusal was right and charged nothing (checked above); check the accounting under a budget 1000x
        return check_release_and_accounting(lambda: _with_budget(make, 1e3), seed, _raised=True)
    violated(bool(history), "accounting", f"{w.name}: the first release was refused even with the budget raised "
                                          f"1000x" if _raised else f"{w.name}: no release was made")
    violated(all(b >= a for a, b in zip(history, history[1:])) and history[0] >= 0, "accounting_monotone",
             f"{w.name}: spent epsilon over successive releases {history} is negative or decreases")
    json.dumps(w.to_json())
    state = w.state_dict()
    fresh = make()
    fresh.load_state_dict(state)
    violated(abs(fresh.spent()[0] - w.spent()[0]) <= 1e-9 * (1 + w.spent()[0]), "resume",
             f"{w.name}: a wrapper restored from state_dict() reports spent {fresh.spent()}, the original {w.spent()}")


def _mechanism_exposed(w) -> bool:
    try:
        w.noise_std(1)
        return True
    except NotImplementedError:
        return False


def check_noise_calibration(make: Callable[[], Any], seed: int, releases: int = 40) -> None:
    """Residuals of the released statistic's diagonal ~ N(0, noise_std^2): Wilson-Hilferty chi-square z-score
    within 4.5; noise_std(k) / sensitivity(k) the same for k = 1 and 3."""
    w = _with_budget(make, 1e6)
    x = records(seed, clip=w.params.clip)
    k = x.shape[1]
    std = float(w.noise_std(k))
    violated(std > 0 and math.isfinite(std), "noise_calibration", f"{w.name}: noise_std({k}) = {std}")
    try:
        w.sensitivity(1)
        has_sensitivity = True
    except NotImplementedError:
        has_sensitivity = False
    if has_sensitivity:
        z1, zk = w.noise_std(1) / w.sensitivity(1), std / w.sensitivity(k)
        violated(abs(z1 - zk) <= 1e-9 * z1 and abs(w.sensitivity(k) - k * w.sensitivity(1)) <= 1e-9 * w.sensitivity(k),
                 "noise_calibration",
                 f"{w.name}: one record owning {k} rows must be {k}x as sensitive with the same noise multiplier: "
                 f"sensitivity {w.sensitivity(1):.4g} -> {w.sensitivity(k):.4g}, z {z1:.4g} -> {zk:.4g}")
    exact = w.statistic(x).to(torch.float64)
    resid = torch.stack([torch.diagonal(w.release_covariance(x).statistic.to(torch.float64) - exact)
                         for _ in range(releases)])  # [R, s]
    m = resid.numel()
    chi2 = float((resid ** 2).sum()) / std ** 2
    zscore = ((chi2 / m) ** (1 / 3) - (1 - 2 / (9 * m))) / math.sqrt(2 / (9 * m))
    violated(abs(zscore) <= 4.5, "noise_calibration",
             f"{w.name}: the released statistic's noise has empirical std {math.sqrt(chi2 / m) * std:.4g} over {m} "
             f"entries, declared noise_std {std:.4g} (chi-square z-score {zscore:.2f}, |z| must be <= 4.5)")


CHECKS = [
    ("release_and_accounting", lambda w: True, lambda make, seed, samples: check_release_and_accounting(make, seed)),
    ("noise_calibration", _mechanism_exposed, lambda make, seed, samples: check_noise_calibration(make, seed)),
]
