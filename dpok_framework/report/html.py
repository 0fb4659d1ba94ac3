"""Self-contained HTML report of a run directory (PNGs written beside it and embedded as base64).

Every number on the page sits in an element carrying ``data-value`` (full precision, ``repr``) next to
its rounded text (6 significant digits), and table rows carry ``data-metric`` / ``data-split`` /
``data-source``, so tests and scripts can check the page against ``metrics.jsonl`` and the JSON files.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import shutil
from pathlib import Path
from typing import Any

import yaml

from ..errors import DataError
from ..evaluation.drift import drift_summary, generalisation_drift
from ..evaluation.rundir import (EVAL_DIR, EVAL_JSON, HTSR_JSON, last_values, metric_keys, read_json,
                                 read_metrics)
from . import plots

REPORT_DIR = "report"
INDEX = "index.html"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1150px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em}
th{background:#f3f3f3;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}.muted{color:#777}code{background:#f5f5f5;padding:0 .2em}
"""

# Marks every image with its decoded size once loaded, so a headless browser's DOM dump shows whether it rendered.
_SCRIPT = """
window.addEventListener('load', function () {
  document.querySelectorAll('img').forEach(function (im) {
    im.setAttribute('data-rendered', im.complete && im.naturalWidth > 0 ? im.naturalWidth + 'x' + im.naturalHeight : '0x0');
  });
  document.body.setAttribute('data-ready', '1');
});
"""


def fmt(v: Any) -> str:
    """Display form of a number: 6 significant digits; non-numbers as escaped text."""
    if isinstance(v, bool) or v is None:
        return html.escape(str(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.6g}"
    return html.escape(str(v))


def num_cell(v: Any, attrs: str = "") -> str:
    """A table cell; numbers get ``data-value`` (full precision) plus ``attrs`` (e.g. data-metric)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f'<td class="num"{attrs} data-value="{v!r}">{fmt(v)}</td>'
    if v is None:
        return '<td class="muted">-</td>'
    return f"<td>{html.escape(str(v))}</td>"


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts to dotted keys, keeping scalars only."""
    out: dict[str, Any] = {}
    if not isinstance(d, dict):
        return out
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[key] = v
    return out


def kv_table(d: dict[str, Any], source: str) -> str:
    rows = []
    for k, v in d.items():
        attrs = f' data-metric="{html.escape(k)}" data-source="{source}"'
        rows.append(f"<tr{attrs}><th>{html.escape(k)}</th>{num_cell(v, attrs)}</tr>")
    return f'<table data-table="{source}">{"".join(rows)}</table>'


class _Images:
    def __init__(self, out_dir: Path, embed: bool) -> None:
        self.out_dir, self.embed = out_dir, embed

    def tag(self, path: Path | None, alt: str) -> str:
        if path is None or not path.is_file() or path.stat().st_size == 0:
            return ""
        src = path.name
        if self.embed:
            src = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        return f'<img alt="{html.escape(alt)}" data-file="{html.escape(path.name)}" src="{src}">'


def _config_summary(cfg: dict[str, Any]) -> dict[str, Any]:
    loss = cfg.get("loss") or {}
    kernel = cfg.get("kernel") or {}
    div = cfg.get("divergence") or {}
    name = lambda spec: spec.get("name") if isinstance(spec, dict) else spec  # noqa: E731
    return {"model.path": (cfg.get("model") or {}).get("path"), "loss": loss.get("name"), "beta": loss.get("beta"),
            "kernel": kernel.get("name"), "gamma": kernel.get("gamma"),
            "kernel.embedder": name(kernel.get("embedder") or {}),
            "divergence.link": name(div.get("link") or {}), "divergence.penalty": name(div.get("penalty")),
            "divergence.alpha": div.get("alpha")}


def _final_values_section(records: list[dict]) -> str:
    """The final value of every logged metric, train and eval side by side."""
    last_tr, last_ev = last_values(records, "train"), last_values(records, "eval")
    rows = []
    for k in metric_keys(records):
        cells = []
        for split, last in (("train", last_tr), ("eval", last_ev)):
            if k in last:
                step, v = last[k]
                cells.append(f'<td class="num" data-metric="{html.escape(k)}" data-split="{split}" '
                             f'data-step="{step}" data-value="{v!r}">{fmt(v)}</td>')
            else:
                cells.append('<td class="muted">-</td>')
        rows.append(f"<tr><th>{html.escape(k)}</th>{''.join(cells)}</tr>")
    return ('<h2 id="final">Final logged values</h2><table data-table="final"><tr><th>metric</th>'
            "<th>train (last)</th><th>eval (last)</th></tr>" + "".join(rows) + "</table>")


def _selection_section(run: Path, out: Path, img) -> str:
    """The `auto` selection's heat map and result, or "" when the run did no selection."""
    sel_dir = run / "selection"
    sel = read_json(sel_dir / "selection.json")
    if sel is None and not (sel_dir / "heatmap.png").is_file():
        return ""
    body = ""
    if (sel_dir / "heatmap.png").is_file():
        shutil.copyfile(sel_dir / "heatmap.png", out / "selection_heatmap.png")
        body += img.tag(out / "selection_heatmap.png", "selection heat map")
    if isinstance(sel, dict):
        body += kv_table(_flat(sel), "selection")
    return '<h2 id="selection">Data-driven selection (auto)</h2>' + body


def build_report(run_dir: str | Path, out_dir: str | Path | None = None, embed_images: bool = True) -> Path:
    """Write ``<out_dir>/index.html`` (default ``RUN_DIR/report``) and its PNGs; returns the HTML path."""
    run = Path(run_dir)
    if not run.is_dir():
        raise DataError(f"run directory not found: {run}")
    records = read_metrics(run)
    out = Path(out_dir) if out_dir is not None else run / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    img = _Images(out, embed_images)
    parts: list[str] = []

    cfg_path = run / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else None
    if cfg:
        parts.append("<h2>Configuration</h2>" + kv_table(_config_summary(cfg), "config"))
    summary = read_json(run / "summary.json")
    if summary:
        parts.append('<h2 id="summary">Run summary</h2>' + kv_table(_flat(summary), "summary"))

    parts.append(_final_values_section(records))

    parts.append('<h2 id="curves">Training curves</h2>'
                 + (img.tag(plots.training_curves(records, out / "training_curves.png"), "training curves")
                    or '<p class="muted">no loss/reward metrics logged</p>'))
    sections = [("kernel/weights/", "kernel_weights", "Kernel mixture weights (HMK)", "weight"),
                ("kernel/log_ratio", "kernel_log_ratio", "Kernel log-ratio", "log K(x,y+) - log K(x,y-)"),
                ("divergence/", "divergence", "Divergence penalty", "D(pi || pi_ref)")]
    for prefix, stem, title, ylabel in sections:
        tag = img.tag(plots.prefixed_curves(records, prefix, title, ylabel, out / f"{stem}.png"), title)
        if tag:
            parts.append(f'<h2 id="{stem}">{title}</h2>{tag}')

    parts.append(_selection_section(run, out, img))

    drift = generalisation_drift(records)
    if drift:
        ds = drift_summary(drift)
        rows = "".join(f'<tr data-step="{p.step}">{num_cell(p.step)}{num_cell(p.train)}{num_cell(p.eval)}'
                       f"{num_cell(p.gap)}</tr>" for p in drift)
        parts.append('<h2 id="drift">Generalisation drift (preference accuracy)</h2>'
                     + img.tag(plots.drift_plot(drift, out / "drift.png"), "generalisation drift")
                     + kv_table(ds, "drift_summary")
                     + '<table data-table="drift"><tr><th>step</th><th>train</th><th>held-out</th><th>gap</th></tr>'
                     + rows + "</table>")

    ev = read_json(run / EVAL_DIR / EVAL_JSON)
    if isinstance(ev, dict):
        metrics = ev.get("metrics", ev)
        extra = ""
        if ev.get("kernel_weights"):
            extra = "<h3>Learned kernel weights</h3>" + kv_table(ev["kernel_weights"], "eval_kernel_weights")
        parts.append('<h2 id="eval">Held-out evaluation</h2>'
                     + (f'<p class="muted">data: <code>{html.escape(str(ev.get("data", "")))}</code></p>')
                     + kv_table(_flat(metrics), "eval") + extra)

    ht = read_json(run / EVAL_DIR / HTSR_JSON)
    if isinstance(ht, dict) and "policy" in ht:
        pol, ref = ht["policy"], ht.get("reference") or {}
        rows = "".join(
            f'<tr data-metric="{k}" data-source="htsr">{"<th>" + k + "</th>"}{num_cell(pol.get(k))}'
            f"{num_cell(ref.get(k))}</tr>" for k in ("alpha_weighted", "alpha", "frac_alpha_below_2", "num_layers"))
        parts.append('<h2 id="htsr">Heavy-tailed self-regularisation (weighted alpha)</h2>'
                     '<table data-table="htsr"><tr><th></th><th>policy</th><th>reference</th></tr>' + rows
                     + "</table>" + img.tag(plots.htsr_plot(ht, out / "htsr.png"), "weighted alpha per layer"))

    priv = read_json(run / "privacy.json")
    if isinstance(priv, dict):
        parts.append('<h2 id="privacy">Privacy</h2>' + kv_table(_flat(priv), "privacy"))

    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>dpok report: "
            f"{html.escape(run.resolve().name)}</title><style>{_CSS}</style><script>{_SCRIPT}</script></head><body>"
            f"<h1>dpok run report: <code>{html.escape(run.resolve().name)}</code></h1>"
            f'<p class="muted">{html.escape(str(run.resolve()))}; {len(records)} metric records; generated {now}</p>'
            + "".join(parts) + "</body></html>\n")
    index = out / INDEX
    index.write_text(page, encoding="utf-8")
    return index
