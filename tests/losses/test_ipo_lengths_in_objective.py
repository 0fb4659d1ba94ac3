"""The objective hands completion lengths to the loss: IPO `convention: trl` averages each link score per token."""

from __future__ import annotations

import torch

from dpok_framework.config import config_from_dict
from dpok_framework.objective.logps import forward_logps
from dpok_framework.objective.objective import ReferenceOutput, build_objective
from engine.test_objective import make_batch  # tests/engine helpers: a hand-collated batch
from engine.tiny import tiny_llama


def test_objective_passes_completion_lengths_to_ipo_trl(registry):
    policy, ref = tiny_llama(seed=1).double(), tiny_llama(seed=2).double().eval()
    batch, seqs = make_batch()
    beta = 0.1
    cfg = config_from_dict({"model": {"path": "unused"}, "loss": {"name": "ipo", "beta": beta,
                                                                  "params": {"convention": "trl"}}})
    obj = build_objective(cfg, registry, policy)
    with torch.no_grad():
        ref_out = forward_logps(ref, batch)
        pol_out = forward_logps(policy, batch)
        out = obj(batch, ReferenceOutput(ref_out.logps))
    B = len(seqs) // 2
    lengths = torch.tensor([len(c) for _, c in seqs], dtype=torch.float64)  # completion tokens per row
    score = (pol_out.logps - ref_out.logps) / lengths  # kl link centred at r = 0: psi~(r) = r
    expected = ((score[:B] - score[B:]) - 1 / (2 * beta)) ** 2
    torch.testing.assert_close(out.metrics["objective/loss"], expected)
