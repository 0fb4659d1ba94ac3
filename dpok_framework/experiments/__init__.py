"""Experiments: ``dpok sweep`` over run-config axes (the paper's kernel x divergence grid) with paired
statistics against a baseline cell.

:mod:`.spec` (the sweep file), :mod:`.plan` (resolved cell configs, commands), :mod:`.run` (resumable local
runner), :mod:`.collect` (per-pair correctness -> intervals, paired tests, Holm; the tests are in
:mod:`dpok_framework.evaluation.significance`),
:mod:`.table` / :mod:`.heatmap` / :mod:`.outputs` (what is written).
"""

from .collect import collect, read_pairs
from .outputs import write_outputs
from .plan import Cell, Plan, build_plan, load_plan
from .run import cell_status, run_cell, run_sweep
from .spec import SweepSpec, load_spec

__all__ = ["Cell", "Plan", "SweepSpec", "build_plan", "cell_status", "collect", "load_plan", "load_spec",
           "read_pairs", "run_cell", "run_sweep", "write_outputs"]
