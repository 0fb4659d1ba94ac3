"""Held-out preference metrics from per-pair log-probabilities (no model needed: pure tensor maths).

Per pair i, with policy log-probs lp+/lp- and reference log-probs lr+/lr- of the chosen/rejected completion:

    r+_i = lp+_i - lr+_i,  r-_i = lp-_i - lr-_i                (log-ratios)
    reward+_i = beta * r+_i,  reward-_i = beta * r-_i          (DPO implicit rewards, TRL's rewards/*)
    margin_i  = reward+_i - reward-_i                          (TRL's rewards/margins)
    accuracy  = mean_i 1[margin_i > 0]                         (TRL's rewards/accuracies; ties count as wrong)
    win_rate  = mean_i (1[d_pol > d_ref] + 1/2 1[d_pol = d_ref]), d = lp+ - lp- (resp. lr+ - lr-)
    logps_accuracy/{policy,reference} = mean_i 1[lp+_i > lp-_i]  (resp. lr+ > lr-)

``win_rate`` is the rate at which the policy prefers the chosen completion more strongly than the reference
does; it equals ``accuracy`` except that ties count one half. F1 is pointwise: each completion is
classified "preferred" when its implicit reward is > 0 (the policy raised its likelihood above the
reference's), the chosen completions being the positive class (a pairwise F1 with random orientation would
just repeat the accuracy). With kernel log-ratios, their median, spread and positive fraction are added. The
objective's own margin m (``objective/margin``, ``objective/accuracy``) is not recomputed here: it comes from
the objective itself through :func:`dpok_framework.evaluation.heldout.heldout_metrics`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import torch


@dataclass
class PairLogps:
    """Per-pair tensors ``[N]`` (float64 on CPU after :meth:`cpu`); optional kernel log-ratios ``[N]``."""

    policy_chosen: torch.Tensor
    policy_rejected: torch.Tensor
    reference_chosen: torch.Tensor
    reference_rejected: torch.Tensor
    kernel_log_ratio: torch.Tensor | None = None
    index: torch.Tensor | None = None  # dataset row of each pair

    def __post_init__(self) -> None:
        n = self.policy_chosen.shape
        for name in ("policy_rejected", "reference_chosen", "reference_rejected", "kernel_log_ratio", "index"):
            t = getattr(self, name)
            if t is not None and t.shape != n:
                raise ValueError(f"PairLogps.{name} has shape {tuple(t.shape)}, expected {tuple(n)} "
                                 "(one value per pair)")

    def cpu(self) -> "PairLogps":
        f = lambda t: None if t is None else t.detach().to("cpu", torch.float64)  # noqa: E731
        return PairLogps(f(self.policy_chosen), f(self.policy_rejected), f(self.reference_chosen),
                         f(self.reference_rejected), f(self.kernel_log_ratio),
                         None if self.index is None else self.index.detach().cpu().long())

    def __len__(self) -> int:
        return int(self.policy_chosen.shape[0])


def _f1(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def per_pair_table(p: PairLogps, beta: float) -> dict[str, torch.Tensor]:
    """Column name -> ``[N]`` tensor: the per-pair CSV (see module docstring for the formulas)."""
    if not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    p = p.cpu()
    r_pos = p.policy_chosen - p.reference_chosen                      # [N]
    r_neg = p.policy_rejected - p.reference_rejected                  # [N]
    cols: dict[str, torch.Tensor] = {}
    cols["index"] = p.index if p.index is not None else torch.arange(len(p))
    cols["logps/chosen"] = p.policy_chosen
    cols["logps/rejected"] = p.policy_rejected
    cols["ref_logps/chosen"] = p.reference_chosen
    cols["ref_logps/rejected"] = p.reference_rejected
    cols["rewards/chosen"] = beta * r_pos
    cols["rewards/rejected"] = beta * r_neg
    cols["rewards/margins"] = beta * (r_pos - r_neg)
    if p.kernel_log_ratio is not None:
        cols["kernel/log_ratio"] = p.kernel_log_ratio
    return cols


def preference_metrics(p: PairLogps, beta: float) -> dict[str, float]:
    """Aggregate held-out metrics (TRL metric names where they exist); see module docstring."""
    if len(p) == 0:
        raise ValueError("no pairs to evaluate: the held-out set is empty")
    cols = per_pair_table(p, beta)
    m = cols["rewards/margins"]
    rc, rr = cols["rewards/chosen"], cols["rewards/rejected"]
    d_pol = cols["logps/chosen"] - cols["logps/rejected"]
    d_ref = cols["ref_logps/chosen"] - cols["ref_logps/rejected"]
    tp = float((rc > 0).sum())
    fn = float((rc <= 0).sum())
    fp = float((rr > 0).sum())
    precision, recall, f1 = _f1(tp, fp, fn)
    out = {
        "num_pairs": float(len(p)),
        "rewards/accuracies": float((m > 0).double().mean()),
        "rewards/margins": float(m.mean()),
        "rewards/margins_median": float(m.median()),
        "rewards/margins_std": float(m.std()) if len(p) > 1 else 0.0,
        "rewards/chosen": float(rc.mean()),
        "rewards/rejected": float(rr.mean()),
        "logps/chosen": float(cols["logps/chosen"].mean()),
        "logps/rejected": float(cols["logps/rejected"].mean()),
        "win_rate": float(((d_pol > d_ref).double() + 0.5 * (d_pol == d_ref).double()).mean()),
        "logps_accuracy/policy": float((d_pol > 0).double().mean()),
        "logps_accuracy/reference": float((d_ref > 0).double().mean()),
        "f1": f1, "precision": precision, "recall": recall,
        "loss/sigmoid": float(torch.nn.functional.softplus(-m).mean()),  # -log sigmoid(margin)
    }
    if "kernel/log_ratio" in cols:
        k = cols["kernel/log_ratio"]
        out.update({
            "kernel/log_ratio": float(k.mean()),
            "kernel/log_ratio_median": float(k.median()),
            "kernel/log_ratio_std": float(k.std()) if len(p) > 1 else 0.0,
            "kernel/log_ratio_positive": float((k > 0).double().mean()),
        })
    for key, v in out.items():
        if isinstance(v, float) and math.isnan(v):
            raise ValueError(f"metric {key!r} is NaN: check the log-probabilities for NaN/inf entries")
    return out
