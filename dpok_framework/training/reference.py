"""The reference policy pi_ref of a run, in one place.

Four modes, chosen from the configuration (:func:`Reference.mode_for`):

* ``live``: a frozen copy (or ``model.reference``) runs forward on every batch;
* ``adapter``: with ``model.lora`` the reference is the base model, i.e. the policy with its adapter disabled;
* ``precomputed``: ``training.precompute_ref_log_probs``: summed log-probs computed once per split and
  cached on disk (:mod:`.refcache`), looked up by ``row``; the reference model is freed afterwards;
* ``synced``: TR-DPO (Gorbatovski et al. 2024, TRL's ``sync_ref_model``): a live copy that every
  ``tau = ref_model_sync_steps`` optimiser steps becomes ``alpha * policy + (1 - alpha) * ref``
  (``alpha = ref_model_mixup_alpha``). Its weights are part of every checkpoint (``reference.safetensors``),
  so a run resumed in the middle of a sync period continues bit-exactly.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Callable

import torch
from safetensors.torch import load_file, save_file

from ..errors import ConfigError
from ..objective.logps import forward_logps
from ..objective.objective import ReferenceOutput
from .refcache import RefLogpTable, cache_path, compute_ref_table, data_fingerprint, load_table, save_table, \
    weights_fingerprint

logger = logging.getLogger(__name__)

REFERENCE_FILE = "reference.safetensors"


class Reference:
    """``ref(batch, split)`` -> :class:`ReferenceOutput` for the objective; see the module docstring."""

    def __init__(self, mode: str, model: torch.nn.Module | None, policy: torch.nn.Module, accelerator, *,
                 needs_logits: bool = False, mixup_alpha: float = 0.6, sync_steps: int = 512) -> None:
        if mode not in ("live", "adapter", "precomputed", "synced"):
            raise ValueError(f"unknown reference mode {mode!r}")
        self.mode, self.model, self.policy, self.accelerator = mode, model, policy, accelerator
        self.needs_logits, self.mixup_alpha, self.sync_steps = needs_logits, mixup_alpha, sync_steps
        self.lora = model is None  # pi_ref = the policy with its adapter disabled (kept after a precompute)
        self.tables: dict[str, RefLogpTable] = {}
        self.cache_paths: list[Path] = []
        if mode == "synced":
            _check_same_shapes(model, policy)

    @staticmethod
    def mode_for(config) -> str:
        t = config.training
        if t.precompute_ref_log_probs:
            return "precomputed"
        if t.sync_ref_model:
            return "synced"
        return "adapter" if config.model.lora is not None else "live"

    @classmethod
    def from_config(cls, config, model, policy, accelerator, needs_logits: bool = False) -> "Reference":
        t = config.training
        lora = config.model.lora is not None
        return cls(cls.mode_for(config), None if lora else model, policy, accelerator, needs_logits=needs_logits,
                   mixup_alpha=t.ref_model_mixup_alpha, sync_steps=t.ref_model_sync_steps)

    # ------------------------------------------------------------------ the frozen network
    def network(self) -> torch.nn.Module:
        """The module that computes pi_ref (with LoRA: the policy; use inside :meth:`active`)."""
        return self.policy if self.lora else self.model

    def active(self):
        """Context in which :meth:`network` computes pi_ref (disables the adapter under LoRA)."""
        return self.policy.disable_adapter() if self.lora else contextlib.nullcontext()

    def to(self, device) -> "Reference":
        if self.model is not None:
            self.model.to(device)
        return self

    # ------------------------------------------------------------------ per batch
    def __call__(self, batch: dict, split: str = "train") -> ReferenceOutput:
        if self.mode == "precomputed":
            return ReferenceOutput(self.tables[split].lookup(batch["row"]))
        with torch.no_grad(), self.accelerator.autocast(), self.active():
            out = forward_logps(self.network(), batch, need_logits=self.needs_logits)
        return ReferenceOutput(out.logps.detach(), out.logits.detach() if self.needs_logits else None)

    def for_split(self, split: str) -> Callable[[dict], ReferenceOutput]:
        return lambda batch: self(batch, split)

    # ------------------------------------------------------------------ precomputed
    def precompute(self, splits: dict, make_loader: Callable, precision: str, cache_dir: Path) -> None:
        """Fill the per-split tables (from the on-disk cache when the key matches), then free the model."""
        acc = self.accelerator
        for split, ds in splits.items():
            if ds is None:
                continue
            with self.active():
                net = self.network()
                path = cache_path(cache_dir, data_fingerprint(ds), weights_fingerprint(net), precision)
                with acc.main_process_first():
                    table = load_table(path)
                    if table is not None:
                        logger.info("reference log-probs: cache hit %s", path)
                    else:
                        logger.info("reference log-probs: computing (cache miss %s)", path)
                        net.to(acc.device)
                        table = compute_ref_table(net, make_loader(ds), acc.device, acc.autocast)
                        if acc.is_main_process:
                            save_table(table, path)
            if self.lora:
                self.policy.train()
            self.tables[split] = table
            self.cache_paths.append(path)
        if self.model is not None:  # not needed any more: free its memory
            self.model.to("cpu")
            self.model = None

    # ------------------------------------------------------------------ TR-DPO
    def after_step(self, global_step: int, policy: torch.nn.Module) -> bool:
        """Synced mode: at every multiple of ``sync_steps``, ref <- alpha * policy + (1 - alpha) * ref."""
        if self.mode != "synced" or global_step % self.sync_steps:
            return False
        sync_weights(self.model, policy, self.mixup_alpha)
        logger.info("step %d: reference synced (alpha %.3g)", global_step, self.mixup_alpha)
        return True

    def save(self, directory: Path) -> None:
        """Checkpoint part: the synced reference's weights (other modes hold nothing that changes)."""
        if self.mode == "synced" and self.accelerator.is_main_process:
            state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
            save_file(_untie(state), str(Path(directory) / REFERENCE_FILE))

    def load(self, directory: Path) -> None:
        if self.mode != "synced":
            return
        path = Path(directory) / REFERENCE_FILE
        if not path.is_file():
            raise ConfigError(f"--resume: {directory} has no {REFERENCE_FILE}, but training.sync_ref_model is on; "
                              "the checkpoint was written without a synced reference")
        self.model.load_state_dict(load_file(str(path)), strict=False)


def sync_weights(reference: torch.nn.Module, policy: torch.nn.Module, alpha: float) -> None:
    """In place, per parameter: ``ref <- alpha * policy + (1 - alpha) * ref`` (computed in float32 or wider)."""
    pol = dict(policy.named_parameters())
    with torch.no_grad():
        for name, p_ref in reference.named_parameters():
            src = pol[name].detach().to(p_ref.device)
            wide = torch.promote_types(p_ref.dtype, torch.float32)
            mixed = alpha * src.to(wide) + (1.0 - alpha) * p_ref.to(wide)
            p_ref.copy_(mixed.to(p_ref.dtype))


def _check_same_shapes(reference: torch.nn.Module | None, policy: torch.nn.Module) -> None:
    if reference is None:
        raise ConfigError("training.sync_ref_model needs a separate reference model (not model.lora)")
    pol = {k: tuple(v.shape) for k, v in policy.named_parameters()}
    ref = {k: tuple(v.shape) for k, v in reference.named_parameters()}
    if pol != ref:
        diff = sorted(set(pol.items()) ^ set(ref.items()))[:3]
        raise ConfigError(f"training.sync_ref_model: the reference and the policy have different parameters "
                          f"(e.g. {diff}); model.reference must be the same architecture as model.path")


def _untie(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses shared storage (tied embeddings): clone every tensor seen before."""
    seen: set[int] = set()
    out = {}
    for k, v in state.items():
        ptr = v.data_ptr()
        out[k] = v.clone() if ptr in seen and v.numel() else v
        seen.add(ptr)
    return out
