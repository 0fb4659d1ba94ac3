"""Run by test_fsdp.py under `torchrun --nproc_per_node 2` (gloo, CPU): dpok's objective on a policy sharded with
FSDP2 (``torch.distributed.fsdp.fully_shard``, every decoder layer and the root), against an unsharded copy
trained in the same process on the same batches.

Accelerate 1.15 does not select FSDP for CPU processes (``ACCELERATE_USE_FSDP=true`` under torchrun on CPU
gives ``DistributedType.MULTI_CPU``, i.e. DDP over gloo; see docs/distributed.md), so this drives torch's
FSDP2 directly: what it checks is dpok's maths on sharded (DTensor) parameters, the chunked log-probs
refusing the sharded head and falling back to the model's own forward, and the explicit penalty on that
path. Every rank sees the same full batch, so FSDP's averaged gradient equals the one-process gradient.

    fsdp_worker.py OUT [penalty]    -> OUT/fsdp.json (rank 0)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import dpok_framework.objective.fused_logps as fused  # noqa: E402
from dpok_framework.config import config_from_dict  # noqa: E402
from dpok_framework.objective.logps import forward_logps  # noqa: E402
from dpok_framework.objective.objective import ReferenceOutput, build_objective  # noqa: E402
from dpok_framework.registry import get_registry  # noqa: E402
from tests.engine.test_objective import make_batch  # noqa: E402
from tests.engine.tiny import tiny_llama  # noqa: E402

STEPS = 3


def objective(policy, penalty: bool):
    sections = {"model": {"path": "unused"}, "loss": {"name": "sigmoid", "beta": 0.1}}
    if penalty:
        sections["divergence"] = {"link": "kl", "penalty": "kl", "alpha": 0.5}
    return build_objective(config_from_dict(sections), get_registry(), policy)


def train(policy, reference, batch, penalty: bool) -> list[float]:
    obj = objective(policy, penalty)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-2)
    losses = []
    for _ in range(STEPS):
        with torch.no_grad():
            r = forward_logps(reference, batch, need_logits=obj.needs_ref_logits)
        ref = ReferenceOutput(r.logps, r.logits.detach() if obj.needs_ref_logits else None)
        loss = obj(batch, ref).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def main() -> None:
    from torch.distributed.fsdp import fully_shard

    out, *extra = sys.argv[1:]
    penalty = "penalty" in extra
    dist.init_process_group("gloo")
    reference = tiny_llama(seed=1).eval()
    plain, sharded = tiny_llama(seed=1), tiny_llama(seed=1)  # identical weights, built independently
    for layer in sharded.model.layers:
        fully_shard(layer)
    fully_shard(sharded)
    batch, _ = make_batch()
    head_sharded = type(sharded.lm_head.weight).__name__ == "DTensor"
    refused = fused.split_head(sharded) is None
    took = fused.split_head(plain) is not None
    sharded_losses = train(sharded, reference, batch, penalty)
    plain_losses = train(plain, reference, batch, penalty)
    with torch.no_grad():  # the fallback's log-probs (sharded) equal the fast path's (unsharded) after training
        fb = forward_logps(sharded, batch, need_logits=False).logps
        fast = forward_logps(plain, batch, need_logits=False).logps
    if dist.get_rank() == 0:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "fsdp.json").write_text(json.dumps({
            "world_size": dist.get_world_size(), "head_is_dtensor": head_sharded, "fast_path_refused": refused,
            "fast_path_on_plain": took, "logps_max_abs_diff": float((fb - fast).abs().max()),
            "sharded_losses": sharded_losses, "plain_losses": plain_losses}))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
