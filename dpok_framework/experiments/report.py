"""Self-contained HTML report of a sweep: the paper-form table, the heat map, every group's numbers with
its verdict, and a link to each cell's own run report (``runs/<cell>/report/index.html``).

Like the run report, every number sits in an element with ``data-value`` (full precision) and rows carry
``data-group`` / ``data-metric``, so tests can check the page against ``results.json``.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
from pathlib import Path
from typing import Any

from ..report.html import _CSS, _SCRIPT, _Images, num_cell

METRICS = ("rewards/accuracies", "logps/accuracies")


def _group_rows(results: dict[str, Any], out: Path, cell_reports: dict[str, Path]) -> str:
    rows = []
    for g in results["groups"]:
        for m in METRICS:
            s = g[m]
            v = g.get("vs_baseline", {}).get(m, {})
            mc = v.get("mcnemar", {})
            attrs = f' data-group="{html.escape(g["group"])}" data-metric="{m}"'
            links = []
            for cell in g["cells"]:
                rep = cell_reports.get(cell)
                if rep is not None:
                    href = Path(os.path.relpath(rep, out)).as_posix()
                    links.append(f'<a href="{html.escape(href)}" data-cell="{html.escape(cell)}">'
                                 f"{html.escape(cell.rsplit('__', 1)[-1])}</a>")
            label = html.escape(g["group"]) + (" (baseline)" if g["baseline"] else "")
            rows.append(f"<tr{attrs}><th>{label}</th><td>{m}</td>"
                        + "".join(num_cell(s[k], f' data-field="{k}"') for k in ("mean", "std", "low", "high"))
                        + "".join(num_cell(v.get(k), f' data-field="{f}"') for k, f in (("diff", "diff"), ("low", "diff_low"),
                                                                                   ("high", "diff_high")))
                        + num_cell(mc.get("p_value"), ' data-field="p_mcnemar"')
                        + num_cell(v.get("p_holm"), ' data-field="p_holm"')
                        + f'<td data-field="verdict">{html.escape(g.get("verdict", "") if m == results["metric"] else "")}'
                        f'</td><td>{" ".join(links)}</td></tr>')
    head = ("<tr><th>cell</th><th>metric</th><th>mean</th><th>sd (seeds)</th><th>low</th><th>high</th>"
            "<th>diff vs baseline</th><th>diff low</th><th>diff high</th><th>p McNemar</th><th>p Holm</th>"
            "<th>verdict</th><th>run reports</th></tr>")
    return f'<div style="overflow-x:auto"><table data-table="groups">{head}{"".join(rows)}</table></div>'


def _md_table(md: str) -> str:
    """The Markdown table of :func:`..experiments.table.markdown` as an HTML table (text kept verbatim)."""
    out, rows = [], [ln for ln in md.splitlines() if ln.startswith("|")]
    for i, ln in enumerate(rows):
        if i == 1:
            continue
        cells = [c.strip() for c in ln.strip("|").split("|")]
        tag = "th" if i == 0 else "td"
        out.append("<tr>" + "".join(f"<{'th' if j == 0 else tag}>{html.escape(c)}</{'th' if j == 0 else tag}>"
                                    for j, c in enumerate(cells)) + "</tr>")
    return f'<table data-table="paper">{"".join(out)}</table>'


def build_sweep_report(results: dict[str, Any], out_dir: str | Path, heatmap: Path | None,
                       cell_reports: dict[str, Path], embed_images: bool = True) -> Path:
    """Write ``OUT/index.html``; ``cell_reports``: cell name -> its run report's index.html."""
    from .table import markdown

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    img = _Images(out, embed_images)
    m = results["metric"]
    parts = [f'<p>{results["n_pairs"]} held-out pairs, the same for every cell. Intervals: '
             f'{results["level"]:.0%} percentile bootstrap ({results["resamples"]} resamples). Comparison with '
             f'the baseline: paired on the same pairs (and seeds), exact McNemar test, Holm-adjusted across '
             f'cells at alpha {results["alpha"]:g}; verdicts use <code>{html.escape(m)}</code>.</p>']
    if heatmap is not None:
        parts.append('<h2 id="heatmap">Heat map</h2>' + img.tag(heatmap, "sweep heat map"))
    for metric in (m, *[k for k in METRICS if k != m]):
        md = markdown(results, metric)
        base_line = next((ln for ln in md.splitlines() if ln.startswith("Baseline")), "")
        parts.append(f'<h2>Table: {html.escape(metric)}</h2><p>{html.escape(base_line.replace("**", ""))}</p>'
                     + _md_table(md))
    parts.append('<h2 id="cells">Every cell</h2>' + _group_rows(results, out, cell_reports))
    if results["missing"]:
        parts.append('<h2 id="missing">Not finished</h2><ul>'
                     + "".join(f"<li>{html.escape(c)}</li>" for c in results["missing"]) + "</ul>")
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    name = html.escape(results["name"])
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>dpok sweep: {name}</title>'
            f"<style>{_CSS}</style><script>{_SCRIPT}</script></head><body>"
            f"<h1>dpok sweep report: <code>{name}</code></h1><p class=\"muted\">generated {now}</p>"
            + "".join(parts) + "</body></html>\n")
    index = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(index)
    return index
