"""The selector's output: ranked tables per kind, the (kernel x divergence) grid, the choice and why."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .ranking import CandidateRow, _num


@dataclass
class MetricInfo:
    name: str
    label: str
    higher_is_better: bool
    favours: str
    weight: float = 1.0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "higher_is_better": self.higher_is_better,
                "favours": self.favours, "weight": self.weight}


@dataclass
class KindTable:
    """Ranked candidates of one kind (``kernel`` or ``divergence``) with the evidence behind the order."""

    kind: str
    metrics: list[MetricInfo]
    rows: list[CandidateRow]
    data_statistics: dict[str, dict[str, float]] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    excluded_metrics: dict[str, str] = field(default_factory=dict)

    @property
    def best(self) -> CandidateRow | None:
        return next((r for r in self.rows if r.eligible), None)

    def row(self, name: str) -> CandidateRow:
        return next(r for r in self.rows if r.name == name)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "metrics": [m.to_json() for m in self.metrics],
                "candidates": [r.to_json() for r in self.rows],
                "data_statistics": {k: {s: _num(v) for s, v in d.items()} for k, d in self.data_statistics.items()},
                "evidence": self.evidence, "excluded_metrics": dict(self.excluded_metrics)}

    def format(self) -> str:
        """A readable fixed-width table."""
        arrow = {True: "^", False: "v"}
        headers = ["rank", self.kind, "score"] + [f"{m.label}{arrow[m.higher_is_better]}" for m in self.metrics] + ["note"]
        body = []
        for r in self.rows:
            cells = [str(r.rank) if r.rank else "-", r.name, f"{r.score:.3f}" if r.score is not None else "-"]
            for m in self.metrics:
                v = r.values.get(m.name)
                cells.append(_fmt(v.value) if v is not None else "-")
            note = (f"excluded: {r.excluded}" if r.excluded else f"ruled out: {r.ruled_out}" if r.ruled_out
                    else f"tied with {', '.join(r.tied_with)}" if r.tied_with else "")
            cells.append(note)
            body.append(cells)
        widths = [max(len(h), *(len(c[i]) for c in body)) if body else len(h) for i, h in enumerate(headers)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
                 "  ".join("-" * w for w in widths[:-1]) + "  " + "-" * 4]
        lines += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in body]
        for m, why in self.excluded_metrics.items():
            lines.append(f"metric {m} excluded: {why}")
        stats = "; ".join(f"{k}={_fmt(v)}" for d in self.data_statistics.values() for k, v in d.items())
        if stats:
            lines.append(f"data: {stats}")
        lines.append("(^ higher is better, v lower is better; score = mean per-metric rank utility in [0, 1])")
        return "\n".join(lines)


def _fmt(x: float) -> str:
    if x is None:
        return "-"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.4g}"


@dataclass
class SelectionResult:
    """What ``dpok select`` / ``kernel: auto`` decided and the evidence for it.

    ``kernel`` / ``divergence``: the chosen component specs (``{"name", "params"}``), None where that
    kind was not selected (fixed by the config) or every candidate was ruled out.
    ``pairs``: every eligible (kernel, divergence) combination with its joint score (the weighted mean
    utility over the metrics of both kinds), best first.
    """

    kernels: KindTable | None
    divergences: KindTable | None
    fixed: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pairs = self._pairs()
        self.reason = self._reason()

    # -- choice ----------------------------------------------------------------------------
    @property
    def kernel(self) -> dict[str, Any] | None:
        best = self.kernels.best if self.kernels else None
        return dict(best.spec) if best else None

    @property
    def divergence(self) -> dict[str, Any] | None:
        best = self.divergences.best if self.divergences else None
        return dict(best.spec) if best else None

    @property
    def table(self) -> list[dict[str, Any]]:
        return self.pairs

    def _side(self, table: KindTable | None, kind: str) -> list[tuple[str, float, float]]:
        """[(name, summed weighted utility, total weight)] of eligible candidates, or the fixed one."""
        if table is None:
            return [(self.fixed.get(kind, "(fixed)"), 0.0, 0.0)]
        weights = {m.name: m.weight for m in table.metrics}
        out = []
        for r in table.rows:
            if r.eligible:
                out.append((r.name, sum(weights.get(m, 1.0) * u for m, u in r.utilities.items()),
                            sum(weights.get(m, 1.0) for m in r.utilities)))
        return out

    def _pairs(self) -> list[dict[str, Any]]:
        rows = []
        for k, ku, kw in self._side(self.kernels, "kernel"):
            for d, du, dw in self._side(self.divergences, "divergence"):
                total = kw + dw
                rows.append({"kernel": k, "divergence": d, "score": (ku + du) / total if total > 0 else 0.0})
        rows.sort(key=lambda r: -r["score"])  # stable: ties keep the per-kind order
        for i, r in enumerate(rows):
            r["rank"] = i + 1
        return rows

    def _explain(self, table: KindTable) -> str:
        best = table.best
        eligible = [r for r in table.rows if r.eligible]
        if best is None:
            return f"every {table.kind} was ruled out"
        if len(eligible) == 1:
            return f"{best.name} is the only usable {table.kind}"
        if best.tied_with:
            return (f"{best.name} ties with {', '.join(best.tied_with)} for first of {len(eligible)} {table.kind}s "
                    f"(score {best.score:.3f}); it is listed first by name only, the evidence does not separate them")
        runner = eligible[1]
        leads = []
        for m in table.metrics:
            gain = best.utilities.get(m.name, 0.0) - runner.utilities.get(m.name, 0.0)
            if gain > 0:
                leads.append((gain, m))
        leads.sort(key=lambda t: -t[0])
        parts = [f"{m.label} {_fmt(best.values[m.name].value)} vs {_fmt(runner.values[m.name].value)}"
                 for _, m in leads[:2]]
        why = f" ({'; '.join(parts)} for {runner.name})" if parts else ""
        return f"{best.name} ranks first of {len(eligible)} {table.kind}s{why}"

    def _reason(self) -> str:
        pieces = [self._explain(t) for t in (self.kernels, self.divergences) if t is not None]
        tables = [t for t in (self.kernels, self.divergences) if t is not None]
        ruled = [f"{r.name} ({r.ruled_out})" for t in tables for r in t.rows if r.ruled_out and not r.excluded]
        excluded = [f"{r.name} ({r.excluded})" for t in tables for r in t.rows if r.excluded]
        excluded += [f"metric {m} ({why})" for t in tables for m, why in t.excluded_metrics.items()]
        text = "; ".join(pieces)
        if ruled:
            text += "; ruled out: " + ", ".join(ruled)
        if excluded:
            text += "; excluded (failed admission): " + ", ".join(excluded)
        head = " + ".join(x for x in (self.kernel and self.kernel["name"],
                                      self.divergence and self.divergence["name"]) if x)
        return f"{head}: {text}" if head else text

    # -- output ----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"kernel": self.kernel, "divergence": self.divergence, "reason": self.reason,
                "fixed": self.fixed, "pairs": [{**p, "score": _num(p["score"])} for p in self.pairs],
                "kernels": self.kernels.to_json() if self.kernels else None,
                "divergences": self.divergences.to_json() if self.divergences else None,
                "config": self.config}

    def format(self) -> str:
        blocks = [t.format() for t in (self.kernels, self.divergences) if t is not None]
        if self.pairs and self.kernels is not None and self.divergences is not None:
            top = ", ".join(f"{p['kernel']}+{p['divergence']} {p['score']:.3f}" for p in self.pairs[:5])
            blocks.append(f"top pairs: {top}")
        blocks.append(f"selected: {self.reason}")
        return "\n\n".join(blocks)

    def write(self, directory: str | Path, heatmap: bool = True) -> dict[str, Path]:
        """Write ``selection.json``, ``selection.md`` (the tables) and ``heatmap.png`` into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        paths = {"json": d / "selection.json", "table": d / "selection.md"}
        paths["json"].write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        paths["table"].write_text("# dpok selection\n\n```\n" + self.format() + "\n```\n", encoding="utf-8")
        if heatmap:
            from .heatmap import write_heatmap

            paths["heatmap"] = write_heatmap(self, d / "heatmap.png")
        return paths
