"""The selection-metric contract, on synthetic evidence scored with the reference candidates of
:mod:`.reference`: a finite value (or a veto), the same value for the same pairs in another order
(permutation invariance) and on a second call (determinism), a declared direction (``higher_is_better``
a bool, ``target`` a candidate kind), and a finite non-negative ``details["se"]`` wherever a standard error
is reported (always, when ``reports_se`` is declared)."""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from .reference import ReferenceKL, ReferenceRBF
from .results import violated
from .samples import random_log_dists


def kernel_evidence(seed: int, n: int = 24, d: int = 4, perm: torch.Tensor | None = None):
    from ..selection.evidence import KernelEvidence

    g = torch.Generator().manual_seed(seed)
    e_x = torch.randn(n, d, generator=g, dtype=torch.float64)  # [n, d]
    e_pos = e_x + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)  # chosen: near the prompt
    e_neg = e_x + 1.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
    if perm is not None:
        e_x, e_pos, e_neg = e_x[perm], e_pos[perm], e_neg[perm]
    return KernelEvidence(e_x, e_pos, e_neg, seed=seed, source="contract evidence")


def divergence_evidence(seed: int, m: int = 16, v: int = 6, perm: torch.Tensor | None = None):
    from ..selection.evidence import DivergenceEvidence

    logp, logq = random_log_dists(2, m, v, "none", seed)  # [m, v] each
    if perm is not None:
        logp, logq = logp[perm], logq[perm]
    return DivergenceEvidence(logp, logq, seed=seed, source="contract evidence")


def candidate_and_evidence(metric, seed: int, perm: torch.Tensor | None = None) -> tuple[Any, Any]:
    if metric.target == "kernel":
        ev = kernel_evidence(seed, perm=perm)
        return ReferenceRBF().fit(ev.fit_embeddings()), ev
    return ReferenceKL(), divergence_evidence(seed, perm=perm)


def _same(a: float, b: float, se: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-6 * (1.0 + abs(a)) + 2.0 * se


def check_declarations(metric) -> None:
    violated(metric.target in ("kernel", "divergence"), "target",
             f"{metric.name}: target must be 'kernel' or 'divergence', got {metric.target!r}")
    violated(isinstance(metric.higher_is_better, bool), "direction",
             f"{metric.name}: higher_is_better must be True or False, got {metric.higher_is_better!r}")


def check_value(metric, candidate, evidence):
    from ..components.selection import MetricValue

    value = metric.evaluate(candidate, evidence)
    violated(isinstance(value, MetricValue), "value_type", f"{metric.name}: evaluate() returned {type(value).__name__}")
    violated(math.isfinite(value.value) or value.veto is not None, "finite",
             f"{metric.name}: value {value.value} on well-conditioned {metric.target} evidence (and no veto)")
    bad = {k: v for k, v in value.details.items() if not isinstance(v, (int, float)) or math.isnan(float(v))}
    violated(not bad, "finite", f"{metric.name}: details must be numbers, got {bad}")
    if getattr(metric, "reports_se", False):
        violated("se" in value.details, "standard_error",
                 f"{metric.name}: declares reports_se=True but details has no 'se' ({sorted(value.details)})")
    if "se" in value.details:
        se = float(value.details["se"])
        violated(math.isfinite(se) and se >= 0.0, "standard_error", f"{metric.name}: details['se'] = {se}")
    return value


def check_permutation_and_determinism(metric, seed: int) -> None:
    cand, ev = candidate_and_evidence(metric, seed)
    first = check_value(metric, cand, ev)
    again = metric.evaluate(cand, ev)
    se = float(first.details.get("se", 0.0)) if math.isfinite(float(first.details.get("se", 0.0))) else 0.0
    violated(_same(first.value, again.value, 0.0), "deterministic",
             f"{metric.name}: two evaluations of the same candidate gave {first.value!r} and {again.value!r}")
    n = ev.n if metric.target == "kernel" else ev.logp.shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
    cand2, ev2 = candidate_and_evidence(metric, seed, perm=perm)
    moved = check_value(metric, cand2, ev2)
    violated(_same(first.value, moved.value, se), "permutation_invariance",
             f"{metric.name}: {first.value!r} on the pairs in one order, {moved.value!r} in another (se {se:g})")


Make = Callable[[], Any]

CHECKS = [
    ("declarations", lambda m: True, lambda make, seed, samples: check_declarations(make())),
    ("value_and_permutation", lambda m: True,
     lambda make, seed, samples: [check_permutation_and_determinism(make(), seed + i) for i in range(max(1, samples // 2))]),
]
