"""A hand-made evaluated sweep (no training): run directories with eval/pairs.csv of chosen correctness."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from dpok_framework.experiments import build_plan
from dpok_framework.experiments.run import DONE_FILE
from dpok_framework.experiments.spec import SweepSpec

# reference / policy log-prob differences giving (reward correct, logps correct); d_ref = lr+ - lr-
_D = {(1, 1): (-1.0, 1.0), (1, 0): (-1.0, -0.5), (0, 0): (-1.0, -2.0), (0, 1): (2.0, 1.0)}


def write_cell(run_dir: Path, reward: list[int], logps: list[int], beta: float = 0.1) -> None:
    """An evaluated run directory whose held-out pair i is reward-correct iff reward[i] (logps likewise)."""
    ev = run_dir / "eval"
    ev.mkdir(parents=True, exist_ok=True)
    with (ev / "pairs.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "logps/chosen", "logps/rejected", "ref_logps/chosen", "ref_logps/rejected"])
        for i, (r, lo) in enumerate(zip(reward, logps)):
            d_ref, d_pol = _D[(r, lo)]
            w.writerow([10 + 3 * i, -10.0 + d_pol, -10.0, -10.0 + d_ref, -10.0])
    (ev / "eval.json").write_text(json.dumps({"beta": beta, "metrics": {}}))
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(
        {"step": s, "split": "train", "loss": 0.7 - 0.01 * s, "rewards/accuracies": 0.5 + 0.01 * s}) + "\n"
        for s in range(1, 6)))
    (run_dir / DONE_FILE).write_text("{}")


def synthetic_sweep(root: Path, cells: dict[str, tuple[list[int], list[int]]], seeds=(0,)):
    """A planned sweep (kernel {rbf, hmk} x divergence.link [kl, js] + baseline dpo) whose cells named in
    ``cells`` ({cell name: (reward correct, logps correct)}) are 'finished' with those results."""
    spec = SweepSpec.model_validate({
        "name": "synthetic", "base": {"data": {"train": str(root / "pairs.jsonl"), "eval_fraction": 0.25}},
        "axes": {"kernel": {"rbf": {"kernel.name": "rbf", "kernel.gamma": 0.5},
                            "hmk": {"kernel.name": "hmk", "kernel.gamma": 0.5}},
                 "divergence.link": ["kl", "js"]},
        "seeds": list(seeds), "baseline": {"label": "dpo", "set": {"kernel.name": None}},
        "resamples": 2000, "out_dir": str(root / "sweep")})
    plan = build_plan(spec, write=False)
    by_name = {c.name: c for c in plan.cells}
    for name, (reward, logps) in cells.items():
        write_cell(Path(by_name[name].run_dir), reward, logps)
    return plan
