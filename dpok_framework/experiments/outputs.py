"""Everything ``dpok sweep collect`` writes into ``SWEEP_DIR/results/``: the statistics (``results.json``),
the paper-form table (``table.md``, ``table.csv``), the heat map (``heatmap.png``), each finished cell's own
run report (``runs/<cell>/report/``) and the sweep report (``results/index.html``) linking them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .collect import collect
from .heatmap import write_heatmap
from .plan import Plan
from .table import write_tables

RESULTS_DIR = "results"


def write_outputs(plan: Plan, embed_images: bool = True) -> dict[str, Any]:
    """Collect whatever has finished and write every output; returns the results and the written paths."""
    from ..report import build_report
    from .report import build_sweep_report

    results = collect(plan)
    out = plan.out_dir / RESULTS_DIR
    paths: dict[str, Path] = dict(write_tables(results, out))
    heat = write_heatmap(results, out / "heatmap.png")
    if heat is not None:
        paths["heatmap"] = heat
    reports: dict[str, Path] = {}
    for cell in plan.cells:
        if cell.name in results["finished"]:
            reports[cell.name] = build_report(cell.run_dir, embed_images=embed_images)
    paths["report"] = build_sweep_report(results, out, heat, reports, embed_images=embed_images)
    return {"results": results, "paths": paths}
