"""Held-out evaluation of the policy next to the reference.

Per held-out pair: summed completion log-probs of both models on y+ and y-. Reported:

* ``accuracy``: fraction with log pi(y+|x) > log pi(y-|x) (the model itself prefers the chosen answer);
  the same for the reference, so the two are directly comparable.
* ``accuracy_per_token``: the same on per-token mean log-probs (removes the length bias).
* ``mean_margin``: mean of log pi(y+|x) - log pi(y-|x).
* policy only: ``reward_accuracy`` / ``mean_reward_margin`` (TRL's rewards/accuracies and
  rewards/margins, beta * (r+ - r-)) and ``objective_accuracy`` (fraction with DPO-Kernels margin m > 0).
  For the reference these are identically 0 (r = 0), so they are not repeated there.
"""

from __future__ import annotations

from typing import Callable

import torch

from .metrics import MetricAccumulator
from ..objective.objective import ReferenceOutput


def _stats(c: torch.Tensor, r: torch.Tensor, lc: torch.Tensor, lr: torch.Tensor) -> dict[str, float]:
    return {
        "accuracy": (c > r).double().mean().item(),
        "accuracy_per_token": ((c / lc.clamp(min=1)) > (r / lr.clamp(min=1))).double().mean().item(),
        "mean_margin": (c - r).double().mean().item(),
        "mean_logp_chosen": c.double().mean().item(),
        "mean_logp_rejected": r.double().mean().item(),
    }


def evaluate(accelerator, objective, eval_loader, reference: Callable[[dict], ReferenceOutput],
             embeddings: Callable[[dict], tuple | None]) -> tuple[dict[str, float], dict]:
    """Returns (eval metrics with TRL names, summary dict). Every process gets the same result."""
    model = objective
    inner = accelerator.unwrap_model(objective)
    was_training = model.training
    model.eval()
    cols: dict[str, list[torch.Tensor]] = {k: [] for k in
                                           ("pc", "pr", "rc", "rr", "lc", "lr", "m", "loss", "klr")}
    scalars = MetricAccumulator()
    with torch.no_grad():
        for batch in eval_loader:
            ref = reference(batch)
            out = model(batch, ref, embeddings(batch))
            B = batch["row"].shape[0]
            lengths = batch["completion_mask"][:, 1:].sum(-1).float()  # [2B]
            met = out.metrics
            per_pair = torch.stack([
                met["logps/chosen"], met["logps/rejected"], ref.logps[:B].float(), ref.logps[B:].float(),
                lengths[:B], lengths[B:], met["objective/margin"], met["objective/loss"],
                met.get("kernel/log_ratio", torch.zeros_like(met["objective/margin"])),
            ], dim=-1)  # [B, 9]
            gathered = accelerator.gather_for_metrics(per_pair)  # [B_total, 9]
            for i, k in enumerate(cols):
                cols[k].append(gathered[:, i].cpu())
            scalars.add("loss", out.loss.detach())
            for k, v in met.items():
                if k.startswith("divergence/") or k == "kernel/regularizer":
                    scalars.add(k, v)
    model.train(was_training)
    if not cols["pc"]:
        return {}, {}
    t = {k: torch.cat(v).double() for k, v in cols.items()}
    beta = inner.beta
    rc, rr = beta * (t["pc"] - t["rc"]), beta * (t["pr"] - t["rr"])
    metrics = {
        "loss": t["loss"].mean().item(),
        "rewards/chosen": rc.mean().item(), "rewards/rejected": rr.mean().item(),
        "rewards/margins": (rc - rr).mean().item(), "rewards/accuracies": (rc > rr).double().mean().item(),
        "logps/chosen": t["pc"].mean().item(), "logps/rejected": t["pr"].mean().item(),
        "objective/margin": t["m"].mean().item(),
    }
    if inner.gamma > 0:
        metrics["kernel/log_ratio"] = t["klr"].mean().item()
    extra = scalars.reduce(accelerator)
    # the objective's scalar loss includes penalty/regulariser terms; report the full one
    metrics["loss"] = extra.pop("loss", metrics["loss"])
    metrics.update(extra)
    policy = _stats(t["pc"], t["pr"], t["lc"], t["lr"])
    policy.update({"reward_accuracy": metrics["rewards/accuracies"], "mean_reward_margin": metrics["rewards/margins"],
                   "objective_accuracy": (t["m"] > 0).double().mean().item(),
                   "mean_objective_margin": metrics["objective/margin"]})
    summary = {"n_pairs": int(t["pc"].numel()), "policy": policy,
               "reference": _stats(t["rc"], t["rr"], t["lc"], t["lr"])}
    return metrics, summary
