"""Drive TRL 1.16's own DPO loss code (``DPOTrainer._compute_loss``) on given log-probs, without a model.

TRL computes its losses inline in ``trl/trainer/dpo_trainer.py`` (``DPOTrainer._compute_loss``, v1.16.0),
so there is no loss function to import. This harness calls that method unbound with a minimal stand-in
for the trainer (the attributes the method reads) and a stand-in model whose per-token log-probs sum to
the requested sequence log-probs, with reference log-probs precomputed (``precompute_ref_log_probs``), in float32 (TRL's alpha clamp table
has no float64 entry).
Nothing of TRL's formula is re-implemented here: the numbers come from TRL's code.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import torch


class _Accelerator:
    device = torch.device("cpu")

    @staticmethod
    def gather_for_metrics(t):
        return t

    @staticmethod
    def gather(t):
        return t


def _trainer(loss_type: str, beta: float, *, f_divergence_type: str, f_alpha_divergence_coef: float,
             label_smoothing: float) -> SimpleNamespace:
    return SimpleNamespace(
        model=SimpleNamespace(training=True), accelerator=_Accelerator(), aux_loss_enabled=False, ld_alpha=None,
        precompute_ref_logps=True, beta=beta, loss_types=[loss_type], loss_weights=[1.0],
        f_divergence_type=f_divergence_type, f_alpha_divergence_coef=f_alpha_divergence_coef,
        label_smoothing=label_smoothing, use_weighting=False, args=SimpleNamespace(),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)}, _total_train_tokens=0, _tp_size=1)


def trl_per_pair_loss(loss_type: str, beta: float, logps: tuple[float, float], ref_logps: tuple[float, float],
                      lengths: tuple[int, int], *, f_divergence_type: str = "reverse_kl",
                      f_alpha_divergence_coef: float = 0.5, label_smoothing: float = 0.0) -> float:
    """TRL 1.16's loss for one pair: ``logps`` / ``ref_logps`` = (chosen, rejected) summed log-probs."""
    from trl import DPOTrainer

    T = 1 + max(lengths) + 1  # one prompt token, the longer completion, one pad
    completion_mask = torch.zeros(2, T, dtype=torch.long)
    per_token = torch.zeros(2, T - 1, dtype=torch.float32)
    for row, (n, lp) in enumerate(zip(lengths, logps)):
        completion_mask[row, 1:1 + n] = 1
        per_token[row, 0] = lp  # shifted frame; TRL only sums them, so one token carries it (an exact sum)
    outputs = SimpleNamespace(log_probs=per_token, entropy=torch.zeros_like(per_token),
                              mean_logits=torch.zeros_like(per_token), is_top1=torch.zeros_like(per_token, dtype=torch.bool))
    inputs = {"input_ids": torch.ones(2, T, dtype=torch.long), "attention_mask": torch.ones(2, T, dtype=torch.long),
              "completion_mask": completion_mask,
              "ref_chosen_logps": torch.tensor([ref_logps[0]], dtype=torch.float32),
              "ref_rejected_logps": torch.tensor([ref_logps[1]], dtype=torch.float32)}
    trainer = _trainer(loss_type, beta, f_divergence_type=f_divergence_type,
                       f_alpha_divergence_coef=f_alpha_divergence_coef, label_smoothing=label_smoothing)
    loss = DPOTrainer._compute_loss(trainer, lambda **kw: outputs, inputs, False)
    return float(loss)
