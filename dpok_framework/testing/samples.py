"""Seeded test inputs without hypothesis: points, categorical distributions, margins and component params.

The contract (``dpok plugins check``, the pytest plugin, runtime admission) draws from these so it runs with
nothing but torch and pydantic; :mod:`dpok_framework.testing.strategies` wraps the same generators for
hypothesis.
"""

from __future__ import annotations

import math
import random
import types
import typing
from typing import Any, Literal, Union

import torch
from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError


def make_points(n: int, d: int, scale: float, dup_frac: float, seed: int, dtype=torch.float64) -> torch.Tensor:
    """``[n, d]`` Gaussian points times ``scale``, with a fraction replaced by near-duplicates (1e-9 apart)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    n_dup = int(dup_frac * n)
    if n_dup and n > 1:
        src = torch.randint(0, n - n_dup, (n_dup,), generator=g)
        x[n - n_dup:] = x[src] + 1e-9 * scale * torch.randn(n_dup, d, generator=g, dtype=torch.float64)
    return x.to(dtype)


def log_softmax_masked(logits: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``[..., V]`` log-probabilities with ``-inf`` where ``keep`` is False (each row keeps >= 1 entry)."""
    x = logits.masked_fill(~keep, float("-inf"))
    return x - torch.logsumexp(x, dim=-1, keepdim=True)


def random_log_dists(count: int, batch: int, v: int, zeros: str, seed: int, spread: float = 2.0
                     ) -> list[torch.Tensor]:
    """``count`` float64 ``[batch, v]`` log-probability tensors.  ``zeros``: ``"none"`` (full support),
    ``"common"`` (one shared zero pattern) or ``"any"`` (independent zeros, disjoint supports possible)."""
    g = torch.Generator().manual_seed(seed)

    def mask() -> torch.Tensor:
        keep = torch.rand(batch, v, generator=g) > 0.35  # [batch, v]
        keep[torch.arange(batch), torch.randint(0, v, (batch,), generator=g)] = True
        return keep

    common = mask() if zeros == "common" else None
    out = []
    for _ in range(count):
        logits = torch.randn(batch, v, generator=g, dtype=torch.float64) * spread  # [batch, v]
        keep = {"none": torch.ones(batch, v, dtype=torch.bool), "common": common}.get(zeros)
        out.append(log_softmax_masked(logits, mask() if keep is None else keep))
    return out


def merge_bins(logp: torch.Tensor, ids: torch.Tensor, groups: int) -> torch.Tensor:
    """Push ``[B, V]`` log-probabilities through the deterministic channel v -> ids[v]: ``[B, G]``."""
    p = logp.exp()
    merged = torch.zeros(*p.shape[:-1], groups, dtype=p.dtype).index_add_(-1, ids, p)
    return merged.log()


def mix(logp: torch.Tensor, logq: torch.Tensor, lam: float) -> torch.Tensor:
    """log(lam p + (1 - lam) q), with zero masses kept exactly zero."""
    return (lam * logp.exp() + (1.0 - lam) * logq.exp()).log()


def random_partition(v: int, seed: int) -> tuple[torch.Tensor, int]:
    """A surjective map of V bins onto G <= V groups: (``[V]`` group ids, G)."""
    g = torch.Generator().manual_seed(seed)
    groups = int(torch.randint(1, v + 1, (1,), generator=g))
    ids = torch.randint(0, groups, (v,), generator=g)
    ids[:groups] = torch.arange(groups)
    return ids[torch.randperm(v, generator=g)], groups


EXTREME_MARGINS = (-1e4, -1e3, -80.0, -30.0, -5.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 5.0, 30.0, 80.0, 1e3, 1e4)


# -- params drawn from a component's pydantic model ---------------------------------------------------
def _bounds(metadata: list[Any]) -> tuple[float | None, float | None, bool, bool]:
    lo = hi = None
    lo_open = hi_open = False
    for m in metadata:
        if isinstance(m, Gt):
            lo, lo_open = float(m.gt), True
        elif isinstance(m, Ge):
            lo = float(m.ge)
        elif isinstance(m, Lt):
            hi, hi_open = float(m.lt), True
        elif isinstance(m, Le):
            hi = float(m.le)
    return lo, hi, lo_open, hi_open


def _annotated_parts(tp: Any) -> tuple[Any, list[Any]]:
    meta: list[Any] = []
    while typing.get_origin(tp) is typing.Annotated:
        args = typing.get_args(tp)
        tp, meta = args[0], meta + list(args[1:])
    return tp, meta


def _draw_float(rng: random.Random, default: Any, lo: float | None, hi: float | None, lo_open: bool,
                hi_open: bool) -> float:
    if lo is not None and hi is not None:
        value = rng.uniform(lo, hi)
        if (lo_open and value <= lo) or (hi_open and value >= hi):
            value = 0.5 * (lo + hi)
        return value
    centre = abs(default) if isinstance(default, (int, float)) and default not in (0, 0.0) else 1.0
    if lo is not None:  # one-sided: lo + a log-uniform offset of the default's order
        return lo + centre * 10 ** rng.uniform(-1.0, 1.0) if lo >= 0 or centre else lo + 1.0
    if hi is not None:
        return hi - centre * 10 ** rng.uniform(-1.0, 1.0)
    sign = -1.0 if isinstance(default, (int, float)) and default < 0 else 1.0
    return sign * centre * 10 ** rng.uniform(-1.0, 1.0)


def _draw_value(rng: random.Random, tp: Any, metadata: list[Any], default: Any) -> Any:
    tp, extra = _annotated_parts(tp)
    metadata = list(metadata) + extra
    origin = typing.get_origin(tp)
    if origin is Literal:
        return rng.choice(typing.get_args(tp))
    if origin in (Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if type(None) in typing.get_args(tp) and rng.random() < 0.5:
            return None
        return _draw_value(rng, rng.choice(members), metadata, default)
    if tp is bool:
        return rng.random() < 0.5
    lo, hi, lo_open, hi_open = _bounds(metadata)
    if tp is int:
        a = int(lo) + (1 if lo_open else 0) if lo is not None else (int(default) - 3 if isinstance(default, int) else -3)
        b = int(hi) - (1 if hi_open else 0) if hi is not None else max(a, (default if isinstance(default, int) else 0)) + 4
        return rng.randint(a, max(a, b))
    if tp is float:
        d = default if isinstance(default, (int, float)) and not isinstance(default, bool) else None
        return _draw_float(rng, d, lo, hi, lo_open, hi_open)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return draw_params(tp, rng).model_dump()
    return default  # tuples, strings, paths: keep the documented default


def draw_params(model: type[BaseModel], rng: random.Random, tries: int = 20) -> BaseModel:
    """A random valid instance of ``model``: each field drawn from its type and bounds (``Literal``
    choices, numeric ranges from ``ge``/``gt``/``le``/``lt``, unions, nested models); falls back to the
    defaults when ``tries`` draws all fail validation (e.g. a cross-field rule)."""
    for _ in range(tries):
        values = {}
        for name, info in model.model_fields.items():
            default = info.get_default(call_default_factory=True)
            if rng.random() < 0.25:
                continue  # keep some defaults: most real configs change few fields
            values[name] = _draw_value(rng, info.annotation, list(info.metadata), default)
        try:
            return model(**values)
        except (ValidationError, ValueError, TypeError):
            continue
    return model()


def param_sets(model: type[BaseModel], draws: int, seed: int) -> list[BaseModel]:
    """The defaults followed by ``draws`` distinct random instances of ``model``."""
    rng = random.Random(seed)
    out = [model()]
    seen = {out[0].model_dump_json()}
    for _ in range(draws * 3):
        if len(out) > draws:
            break
        p = draw_params(model, rng)
        key = p.model_dump_json()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def finite_or_none(x: float) -> bool:
    return x is None or math.isfinite(x)
