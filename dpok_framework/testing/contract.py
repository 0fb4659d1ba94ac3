"""Running the contract: which checks apply to a component, over which params, with which profile.

    >>> from dpok_framework import get_registry
    >>> from dpok_framework.testing import run_contract
    >>> results = run_contract(get_registry(), ["my-dpok-plugin"])        # doctest: +SKIP
    >>> [r.describe() for r in results if not r.ok]                       # doctest: +SKIP

A component is checked with its default params and with params drawn from its ``Params`` model
(:func:`~dpok_framework.testing.samples.param_sets`); each property reports the first params that
violate it.  ``fast`` (the default of ``dpok plugins check`` and ``--dpok-contract``) draws 2 params sets
and 3 inputs per check; ``thorough`` 8 and 12.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch

from . import divergences, embedders, kernels, losses, metrics, privacy
from .embedders import Unavailable
from .results import CheckResult, ContractViolation
from .samples import param_sets


@dataclass(frozen=True)
class Profile:
    name: str
    param_draws: int  # random params sets besides the defaults
    samples: int  # input sets per check


# checks that load a model: the fast profile runs them with the default params only
DEFAULTS_ONLY_WHEN_FAST = {"encode_texts"}

PROFILES = {"fast": Profile("fast", 2, 3), "thorough": Profile("thorough", 8, 12)}

# kind -> [(property, applies(instance), run(make, seed, samples))]
CHECKS: dict[str, list[tuple[str, Callable[[Any], bool], Callable[..., Any]]]] = {
    "kernel": kernels.CHECKS,
    "divergence": divergences.CHECKS,
    "loss": losses.CHECKS,
    "selection_metric": metrics.CHECKS,
    "embedder": embedders.CHECKS,
    "privacy_wrapper": privacy.CHECKS,
}


TOKEN_EMBEDDINGS = torch.randn(64, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # [V, h]


def prepare(kind: str, component: Any) -> Any:
    """What the engine does to a fresh component before use: divergences receive a token-embedding matrix
    ``[64, 8]`` (geometry-aware ones need it; the contract's distributions have V <= 64)."""
    if kind == "divergence":
        component.bind_token_embeddings(TOKEN_EMBEDDINGS)
    return component


def _profile(profile: str | Profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"unknown contract profile {profile!r}; use one of {sorted(PROFILES)}") from None


def select_components(registry, selectors: Iterable[str] = ()) -> list[Any]:
    """ComponentInfos matching ``selectors`` (component names, ``kind:name``, distribution or plugin names;
    none: every registered component).  An unmatched selector is an error listing what is installed."""
    from ..errors import UnknownComponentError
    from ..plugins import _norm

    every = [info for kind in CHECKS for info in registry.infos(kind)]
    selectors = list(selectors)
    if not selectors:
        return every
    out: list[Any] = []
    for sel in selectors:
        kind, _, name = sel.rpartition(":")
        hits = [i for i in every if (i.name == name and (not kind or i.kind == kind))
                or _norm(i.distribution or "") == _norm(sel) or _norm(i.plugin) == _norm(sel)]
        if not hits:
            dists = sorted({i.distribution for i in every if i.distribution})
            raise UnknownComponentError(f"{sel!r} is neither a registered component nor an installed dpok plugin "
                                        f"distribution; distributions: {', '.join(dists) or 'none'}")
        out += [h for h in hits if h not in out]
    return out


def check_names(kind: str) -> list[str]:
    return [prop for prop, _, _ in CHECKS[kind]]


def run_check(info, prop: str, profile: str | Profile = "fast", seed: int = 0) -> CheckResult:
    """One property of one component over its param sets; the first violation wins."""
    prof = _profile(profile)
    _, applies, run = next(c for c in CHECKS[info.kind] if c[0] == prop)
    start = time.perf_counter()
    result = CheckResult(info.kind, info.name, info.distribution, info.version, prop, "skip",
                         "not declared by the component")
    draws = 0 if (prof.name == "fast" and prop in DEFAULTS_ONLY_WHEN_FAST) else prof.param_draws
    for i, params in enumerate(param_sets(info.cls.Params, draws, seed)):
        shown = params.model_dump(mode="json")

        def make(p=params):
            return prepare(info.kind, info.cls(p))

        try:
            probe = make()
            if not applies(probe):
                continue
            run(make, seed + 101 * i, prof.samples)
            if result.status == "skip":
                result = CheckResult(info.kind, info.name, info.distribution, info.version, prop, "pass")
        except ContractViolation as v:
            result = CheckResult(info.kind, info.name, info.distribution, info.version, v.prop, "fail", v.detail, shown)
            break
        except Unavailable as exc:
            result = CheckResult(info.kind, info.name, info.distribution, info.version, prop, "skip", str(exc), shown)
            break
        except Exception as exc:  # noqa: BLE001 - a raising component is a contract error, reported not thrown
            result = CheckResult(info.kind, info.name, info.distribution, info.version, prop, "error",
                                 f"raised {type(exc).__name__}: {exc}", shown)
            break
    result.seconds = time.perf_counter() - start
    return result


def run_contract(registry, selectors: Iterable[str] = (), profile: str | Profile = "fast",
                 seed: int = 0) -> list[CheckResult]:
    """Every check of every selected component (see :func:`select_components`)."""
    return [run_check(info, prop, profile, seed)
            for info in select_components(registry, selectors) for prop in check_names(info.kind)]


def format_results(results: list[CheckResult]) -> str:
    """A fixed-width table: kind, component, distribution, property, status, detail."""
    rows = [(r.kind, r.component, f"{r.distribution} {r.version}" if r.distribution else "-", r.prop,
             r.status.upper(), (r.message + (f" [params {r.params}]" if r.params and not r.ok else "")) if r.status != "pass" else "")
            for r in results]
    head = ("kind", "component", "distribution", "property", "status", "detail")
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head[:-1])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  detail"]
    lines.append("  ".join("-" * w for w in widths) + "  ------")
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows]
    return "\n".join(line.rstrip() for line in lines)
