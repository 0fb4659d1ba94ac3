"""Turning metric values into a ranking: per-metric rank utilities (Borda), weighted mean, tie-breaks.

Metrics have incomparable units, so each metric only contributes the *order* it puts the eligible
candidates in: utility u = 1 - (r - 1) / (n - 1) for average rank r among n eligible candidates (1 for
the best, 0 for the worst, ties share the average; a single candidate gets 1).  Undefined values (nan)
rank below every defined one.  A candidate's score is the weight-averaged utility over the metrics of
its kind; ruled-out candidates take no part.  Values are compared after rounding to 9 significant
digits so that floating-point noise cannot flip an order, and values a metric reports with a standard
error (``details["se"]``) are tied when within two combined standard errors of each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..components.selection import MetricValue


def _key(value: float, higher_is_better: bool) -> float:
    """Sort key: larger is better; nan is worst; rounded to 9 significant digits."""
    if math.isnan(value):
        return -math.inf
    v = value if higher_is_better else -value
    if math.isinf(v) or v == 0.0:
        return v
    return float(f"{v:.9g}")


def rank_utilities(values: dict[str, float], higher_is_better: bool,
                   errors: dict[str, float] | None = None) -> dict[str, float]:
    """Average-rank utilities in [0, 1] for ``{candidate: value}`` (see the module docstring).

    ``errors``: standard errors of estimated values.  Candidates are then grouped greedily from the best
    down: a value joins the group of the group's first (best) member when it is within
    2 sqrt(se_first^2 + se_value^2) of it, and a group shares one average rank, so estimator noise
    cannot order candidates (e.g. PND's linear-time estimate near 0).
    """
    n = len(values)
    if n == 0:
        return {}
    if n == 1:
        return {name: 1.0 for name in values}
    errors = errors or {}
    keys = {name: _key(v, higher_is_better) for name, v in values.items()}
    ordered = sorted(values, key=lambda name: (-keys[name], name))
    groups: list[list[str]] = []
    for name in ordered:
        if groups:
            head = groups[-1][0]
            tol = 2.0 * math.hypot(errors.get(head, 0.0), errors.get(name, 0.0))
            same = keys[head] == keys[name] or (
                tol > 0 and math.isfinite(keys[head]) and math.isfinite(keys[name]) and keys[head] - keys[name] <= tol)
            if same:
                groups[-1].append(name)
                continue
        groups.append([name])
    out: dict[str, float] = {}
    position = 1
    for tied in groups:
        avg_rank = position + (len(tied) - 1) / 2.0
        for name in tied:
            out[name] = 1.0 - (avg_rank - 1.0) / (n - 1.0)
        position += len(tied)
    return out


@dataclass
class CandidateRow:
    """One candidate kernel or divergence with its per-metric evidence."""

    name: str
    spec: dict[str, Any]
    values: dict[str, MetricValue] = field(default_factory=dict)
    utilities: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    score: float | None = None
    rank: int | None = None
    ruled_out: str | None = None
    excluded: str | None = None  # refused by runtime admission (the component breaks what it declares)
    tied_with: list[str] = field(default_factory=list)
    seconds: float = 0.0
    fit_seconds: float = 0.0

    @property
    def eligible(self) -> bool:
        return self.ruled_out is None and self.excluded is None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "spec": self.spec, "rank": self.rank, "score": _num(self.score),
                "ruled_out": self.ruled_out, "excluded": self.excluded, "tied_with": list(self.tied_with),
                "metrics": {m: {"value": _num(v.value), "utility": _num(self.utilities.get(m)),
                                **({"veto": v.veto} if v.veto else {}),
                                **({"details": {k: _num(x) for k, x in v.details.items()}} if v.details else {}),
                                **({"error": self.errors[m]} if m in self.errors else {})}
                            for m, v in self.values.items()},
                "seconds": round(self.seconds, 4), "fit_seconds": round(self.fit_seconds, 4)}


def _num(x: float | None) -> float | str | None:
    """JSON-safe number: inf/nan become strings."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def score_rows(rows: list[CandidateRow], metrics: dict[str, bool], weights: dict[str, float]) -> None:
    """Fill utilities, score and rank of ``rows`` in place and sort them (eligible by score, then name;
    ruled-out ones last).  ``metrics``: ``{metric name: higher_is_better}``."""
    eligible = [r for r in rows if r.eligible]
    for metric, hib in metrics.items():
        present = [r for r in eligible if metric in r.values]
        errors = {r.name: float(r.values[metric].details.get("se", 0.0)) for r in present}
        errors = {k: v for k, v in errors.items() if math.isfinite(v)}
        utils = rank_utilities({r.name: r.values[metric].value for r in present}, hib, errors)
        for r in eligible:
            if r.name in utils:
                r.utilities[metric] = utils[r.name]
    for r in eligible:
        total = sum(weights.get(m, 1.0) for m in r.utilities)
        r.score = (sum(weights.get(m, 1.0) * u for m, u in r.utilities.items()) / total) if total > 0 else 0.0
    rows.sort(key=lambda r: (not r.eligible, -_tie_key(r.score), r.name))
    # equal scores share a rank and name each other: the order within a tie is by name only, not evidence
    for i, r in enumerate(rows):
        if not r.eligible:
            r.rank = None
            continue
        same = [o for o in rows if o.eligible and o is not r and _tie_key(o.score) == _tie_key(r.score)]
        r.tied_with = [o.name for o in same]
        r.rank = 1 + sum(1 for o in rows if o.eligible and _tie_key(o.score) > _tie_key(r.score))


def _tie_key(score: float | None) -> float:
    """Scores are means of rank utilities: equal up to rounding means tied."""
    return round(score or 0.0, 12)
