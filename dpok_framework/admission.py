"""Admission: a fast runtime check (milliseconds) of what a component declares, before dpok uses it.

:meth:`Registry.build <dpok_framework.registry.Registry.build>` runs it for every component it constructs
(the engine's objective, the selector's candidates and metrics, the CLI), with the same check functions
as the full contract in :mod:`dpok_framework.testing` on a few seeded inputs and the params being built:

* kernel: a small Gram matrix symmetric PSD; positivity where declared; ``paired`` / ``log_paired`` /
  ``log_diag`` agree with ``pairwise``; shift-invariant kernels' random features converge to the kernel;
* divergence: D(p, p) = 0 and D(p, q) >= 0 on a few random distributions, the declared symmetry and upper
  bound; a declared link finite and non-decreasing;
* loss: finite over extreme margins; non-increasing where declared;
* selection metric: finite, deterministic and permutation-invariant on synthetic evidence;
* embedder: policy-hidden pooling shapes and masking (text encoders and privacy wrappers are left to
  ``dpok plugins check``: their checks need a model or many releases).

A failure raises :class:`AdmissionError` naming the component, its distribution and the violated property.
Results are cached per (class, params).  The registry does not import this module (it would close an import
circle registry -> admission -> testing -> selection -> registry): the package's ``__init__`` installs
:func:`admit` with :func:`dpok_framework.registry.set_admission`, so every ``Registry.build`` runs it.  ``DPOK_SKIP_ADMISSION=name1,name2`` skips the check for those
components (an explicit, logged opt-out, e.g. for a component that cannot run on the small synthetic inputs).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

from .errors import AdmissionError  # noqa: F401 (re-exported: dpok_framework.admission.AdmissionError)
from .testing import divergences as _div
from .testing import embedders as _emb
from .testing import kernels as _ker
from .testing import losses as _loss
from .testing import metrics as _met
from .testing.contract import prepare
from .testing.results import ContractViolation
from .testing.samples import make_points, random_log_dists


logger = logging.getLogger(__name__)
ENV_SKIP = "DPOK_SKIP_ADMISSION"


def _kernel(make: Callable[[], Any]) -> None:
    for seed, (n, d, scale) in enumerate(((8, 3, 1.0), (6, 2, 0.2))):
        x = make_points(n, d, scale, 0.0, seed=11 + seed)
        k = _ker.fitted(make, x)
        _ker.check_gram_psd(k, x)
        _ker.check_positive_and_log(k, x, x.roll(1, 0))
        _ker.check_log_diag(k, x)
    if getattr(k, "shift_invariant", False):
        x = make_points(10, 3, 1.0, 0.0, seed=13)
        _ker.check_random_features(_ker.fitted(make, x), x, features=(512, 2048))


def _divergence(make: Callable[[], Any]) -> None:
    d = make()
    for seed in range(2):
        lp, lq = random_log_dists(2, 3, 5, "none", seed=97 + seed)
        _div.check_identity(d, lp, tol=1e-7)
        _div.check_common_support(d, lp, lq, tol=1e-7, batching=False, rtol=1e-4)
    if d.has_link:
        _div.check_link_shape(d)


def _loss_check(make: Callable[[], Any]) -> None:
    loss = make()
    _loss.check_finite(loss, betas=(0.1, 1.0))
    if getattr(loss, "non_increasing", False):
        _loss.check_non_increasing(loss, betas=(0.1, 1.0))


def _metric(make: Callable[[], Any]) -> None:
    m = make()
    _met.check_declarations(m)
    _met.check_permutation_and_determinism(m, seed=5)


def _embedder(make: Callable[[], Any]) -> None:
    e = make()
    if e.uses_policy_hidden:
        _emb.check_pool_hidden(e, seed=3)


RUNTIME_CHECKS: dict[str, Callable[[Callable[[], Any]], None]] = {
    "kernel": _kernel, "divergence": _divergence, "loss": _loss_check, "selection_metric": _metric,
    "embedder": _embedder,
}

_CACHE: dict[tuple[type, str], tuple[str, str] | None] = {}


def admission_problem(kind: str, cls: type, params: Any) -> tuple[str, str] | None:
    """``(property, detail)`` of the first declared property the component violates, or None (cached)."""
    check = RUNTIME_CHECKS.get(kind)
    if check is None:
        return None
    key = (cls, params.model_dump_json())
    if key not in _CACHE:
        try:
            check(lambda: prepare(kind, cls(params)))
            _CACHE[key] = None
        except ContractViolation as v:
            _CACHE[key] = (v.prop, v.detail)
        except Exception as exc:  # noqa: BLE001 - raising on well-formed inputs is a failure too
            _CACHE[key] = ("runs", f"raised {type(exc).__name__}: {exc}")
    return _CACHE[key]


def admit(info: Any, params: Any) -> float:
    """Raise :class:`AdmissionError` if the component ``info`` (a ``ComponentInfo``) built with ``params``
    fails its runtime check; returns the seconds spent (0 when cached)."""
    start = time.perf_counter()
    skip = {n.strip() for n in os.environ.get(ENV_SKIP, "").split(",") if n.strip()}
    if info.name in skip:
        logger.warning("runtime admission skipped for %s %r (%s)", info.kind, info.name, ENV_SKIP)
        return 0.0
    problem = admission_problem(info.kind, info.cls, params)
    if problem is not None:
        prop, detail = problem
        raise AdmissionError(
            f"refused {info.kind} {info.name!r} from {info.where()}: it violates {prop} ({detail}). dpok will not "
            f"use it; run `dpok plugins check {info.name}` for the full contract, or fix the plugin.", prop)
    return time.perf_counter() - start
