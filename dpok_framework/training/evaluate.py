"""Held-out evaluation during training: the objective over the eval loader, metrics from
:func:`dpok_framework.evaluation.heldout.heldout_metrics` (the same definitions ``dpok eval`` uses).

Every metric the objective reports reaches the eval row: ``[B]`` per-pair metrics are gathered across
processes and averaged over pairs, scalar ones averaged over batches. ``summary.json`` also gets each model's
own preference (:func:`~dpok_framework.evaluation.heldout.logp_comparison`) for the policy and the reference.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..evaluation.heldout import heldout_metrics, logp_comparison
from ..objective.objective import ReferenceOutput
from .metrics import MetricAccumulator


def evaluate(accelerator, objective, eval_loader, reference: Callable[[dict], ReferenceOutput],
             embeddings: Callable[[dict], tuple | None]) -> tuple[dict[str, float], dict]:
    """Returns (eval metrics, summary dict). Every process gets the same result."""
    was_training = objective.training
    objective.eval()
    cols: dict[str, list[torch.Tensor]] = {}
    scalars = MetricAccumulator()
    with torch.no_grad():
        for batch in eval_loader:
            ref = reference(batch)
            out = objective(batch, ref, embeddings(batch))
            B = batch["row"].shape[0]
            lengths = batch["completion_mask"][:, 1:].sum(-1).float()  # [2B]
            per_pair = {k: v.float() for k, v in out.metrics.items() if v.dim() == 1 and v.shape[0] == B}
            per_pair.update({"_ref/chosen": ref.logps[:B].float(), "_ref/rejected": ref.logps[B:].float(),
                             "_len/chosen": lengths[:B], "_len/rejected": lengths[B:]})
            names = sorted(per_pair)
            gathered = accelerator.gather_for_metrics(torch.stack([per_pair[n] for n in names], -1))  # [B_tot, M]
            for i, n in enumerate(names):
                cols.setdefault(n, []).append(gathered[:, i].cpu())
            # batch-level values weighted by the batch's pairs, as dpok eval does
            scalars.add("loss", out.loss.detach().reshape(()).expand(B))
            for k, v in out.metrics.items():
                if v.dim() == 0:
                    scalars.add(k, v.reshape(()).expand(B))
    objective.train(was_training)
    if not cols:
        return {}, {}
    t = {k: torch.cat(v).double() for k, v in cols.items()}
    private = {k: t.pop(k) for k in [k for k in t if k.startswith("_")]}
    metrics = heldout_metrics(t, scalars.reduce(accelerator))
    summary = {"n_pairs": int(private["_ref/chosen"].numel()),
               "policy": logp_comparison(t["logps/chosen"], t["logps/rejected"], private["_len/chosen"],
                                         private["_len/rejected"]),
               "reference": logp_comparison(private["_ref/chosen"], private["_ref/rejected"], private["_len/chosen"],
                                            private["_len/rejected"]),
               "eval": metrics}
    return metrics, summary
