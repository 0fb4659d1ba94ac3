"""One definition of the held-out metrics that in-training evaluation and ``dpok eval`` both report.

Input: per-pair columns gathered over the held-out set. Every per-pair metric the objective reports
(``ObjectiveOutput.metrics``: ``rewards/chosen``, ``rewards/rejected``, ``rewards/margins``,
``rewards/accuracies``, ``logps/chosen``, ``logps/rejected``, ``logits/chosen``, ``logits/rejected``,
``objective/margin``, ``kernel/log_ratio``, and anything an objective adds) becomes its mean over pairs under
the same name (TRL's names and meanings); scalar metrics (``loss``, penalty and regulariser terms) are
averaged over batches. Derived here: ``objective/accuracy`` = fraction of pairs with the full DPO-Kernels
margin m > 0. A metric added to the objective therefore reaches train rows, eval rows and ``dpok eval``
without touching this module.
"""

from __future__ import annotations

import torch


def heldout_metrics(per_pair: dict[str, torch.Tensor], scalars: dict[str, float] | None = None) -> dict[str, float]:
    """``per_pair``: name -> ``[N]`` over all held-out pairs; ``scalars``: name -> batch-averaged value."""
    metrics = {name: float(col.double().mean()) for name, col in sorted(per_pair.items()) if col.numel()}
    if "objective/margin" in per_pair and per_pair["objective/margin"].numel():
        metrics["objective/accuracy"] = float((per_pair["objective/margin"] > 0).double().mean())
    for name, value in (scalars or {}).items():
        metrics.setdefault(name, float(value))
    return metrics


def logp_comparison(chosen: torch.Tensor, rejected: torch.Tensor, len_chosen: torch.Tensor,
                    len_rejected: torch.Tensor) -> dict[str, float]:
    """One model's own preference on held-out pairs (summary.json's ``policy`` / ``reference`` blocks):
    ``accuracy`` = mean 1[log p(y+) > log p(y-)], ``accuracy_per_token`` on per-token means, ``mean_margin``
    = mean (log p(y+) - log p(y-)), ``mean_logp_chosen`` / ``mean_logp_rejected``."""
    c, r = chosen.double(), rejected.double()
    return {
        "accuracy": float((c > r).double().mean()),
        "accuracy_per_token": float(((c / len_chosen.clamp(min=1)) > (r / len_rejected.clamp(min=1))).double().mean()),
        "mean_margin": float((c - r).mean()),
        "mean_logp_chosen": float(c.mean()),
        "mean_logp_rejected": float(r.mean()),
    }
