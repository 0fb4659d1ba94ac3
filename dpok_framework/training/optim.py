"""Optimiser (AdamW over the policy and the learnable kernel parameters) and learning-rate schedule."""

from __future__ import annotations

import torch
from transformers import get_scheduler


def adamw(groups: list[dict], lr: float) -> torch.optim.Optimizer:
    """AdamW with the fused kernel where the device has one (on CPU the per-tensor loop is ~50x slower)."""
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.AdamW(groups, lr=lr)


def build_optimizer(objective, config) -> torch.optim.Optimizer:
    t = config.training
    policy_params = [p for p in objective.policy.parameters() if p.requires_grad]
    groups = [{"params": policy_params, "lr": t.lr, "weight_decay": t.weight_decay, "name": "policy"}]
    if objective.kernel is not None:
        kparams = [p for p in objective.kernel.parameters() if p.requires_grad]
        if kparams:
            groups.append({"params": kparams, "lr": config.kernel.lr or t.lr, "weight_decay": 0.0, "name": "kernel"})
    return adamw(groups, t.lr)


def build_scheduler(optimizer, training, total_steps: int):
    return get_scheduler(training.lr_scheduler, optimizer=optimizer, num_warmup_steps=training.warmup_steps,
                         num_training_steps=total_steps)
