"""The training engine: ``Engine(config).train()`` aligns a causal LM with the DPO-Kernels objective.

Everything distributed goes through Accelerate (``prepare``, gradient accumulation, mixed precision,
``gather_for_metrics``/``reduce``, ``save_state``/``load_state``), so the same code runs in one process,
under ``accelerate launch`` or ``torchrun``. Components come from the plugin registry only.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..config import RunConfig, dump_config, validate_components
from ..errors import ConfigError, DpokError
from ..provenance import write_component_record
from ..registry import Registry, get_registry
from ..selection import needs_selection, resolve_auto
from .checkpoint import STATE_FILE, TrainerState, latest_checkpoint, save_checkpoint
from .embeddings import TextEmbeddingTable
from .evaluate import evaluate
from .kernel_fit import policy_hidden_embeddings, release_private_covariance, text_embeddings_for_fit
from .metrics import MetricAccumulator, MetricsWriter
from .objective import DpoKernelsObjective, ReferenceOutput, build_objective
from .refcache import (RefLogpTable, cache_path, compute_ref_table, data_fingerprint, load_table, save_table,
                       weights_fingerprint)

logger = logging.getLogger(__name__)


class TrainingError(DpokError):
    """Training cannot continue (e.g. too many non-finite steps in a row); the message says why and
    where the last good checkpoint is."""


class NonFiniteStepWarning(UserWarning):
    """An optimiser step was skipped because its loss or gradient was NaN/inf."""


@dataclass
class TrainResult:
    run_dir: Path
    global_step: int
    summary: dict = field(default_factory=dict)
    stopped_by: str = "completed"  # completed | max_steps | max_time


def _reset_accelerate_state() -> None:
    """Accelerate keeps one global state per process; a new Engine in the same process starts clean."""
    from accelerate.state import AcceleratorState, GradientState, PartialState

    AcceleratorState._reset_state(True)
    GradientState._reset_state()
    PartialState._reset_state()


class Engine:
    """Train a policy on preference pairs.

    >>> from dpok_framework.config import load_config
    >>> Engine(load_config("run.yaml")).train()          # doctest: +SKIP

    ``resume=True`` continues from the latest checkpoint of ``config.output.dir``.
    ``registry``: a registry to build components from (default: the process-wide one).
    """

    def __init__(self, config: RunConfig, *, resume: bool = False, registry: Registry | None = None,
                 progress: bool | None = None) -> None:
        self.config = config
        self.resume = resume
        self.registry = registry
        self.progress = progress
        self.run_dir = Path(config.output.dir)
        self.ref_cache_paths: list[Path] = []  # reference log-prob cache files used (precompute)

    # ------------------------------------------------------------------ set-up
    def _check_config(self, registry: Registry) -> None:
        cfg = self.config
        validate_components(cfg, registry)
        if cfg.privacy is not None and not registry.names("privacy_wrapper"):
            raise ConfigError(f"privacy.wrapper: {cfg.privacy.wrapper!r} is not available: no privacy wrapper "
                              "plugin is installed (install dpok-privacy) or remove the privacy section")

    def _prepare_run_dir(self, accelerator) -> Path | None:
        run_dir, out = self.run_dir, self.config.output
        ckpt = None
        if self.resume:
            ckpt = latest_checkpoint(run_dir)
            if ckpt is None:
                raise ConfigError(f"--resume: no complete checkpoint under {run_dir / 'checkpoints'}; "
                                  "start without --resume (set training.save_steps to write checkpoints)")
        elif run_dir.exists() and any(run_dir.iterdir()) and not out.overwrite:
            raise ConfigError(f"output.dir {str(run_dir)!r} is not empty: pass --resume to continue it, "
                              "set output.overwrite: true to write over it, or choose another output.dir")
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            if not self.resume and out.overwrite and run_dir.exists():
                for name in ("checkpoints", "model", "metrics.jsonl", "summary.json", "kernel.pt", "privacy.json"):
                    p = run_dir / name
                    if p.is_dir():
                        shutil.rmtree(p)
                    elif p.exists():
                        p.unlink()
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.yaml").write_text(dump_config(self.config))
        accelerator.wait_for_everyone()
        return ckpt

    def _make_accelerator(self):
        from accelerate import Accelerator
        from accelerate.utils import DataLoaderConfiguration, set_seed

        t = self.config.training
        mp = t.mixed_precision
        if mp == "fp16" and not torch.cuda.is_available():
            raise ConfigError("training.mixed_precision: fp16 needs a CUDA GPU; use bf16 or no on this machine")
        # without a GPU, tell Accelerate explicitly: only then does torchrun give MULTI_CPU (gloo) processes
        no_gpu = not torch.cuda.is_available() and not (hasattr(torch, "xpu") and torch.xpu.is_available())
        accelerator = Accelerator(
            cpu=no_gpu and not torch.backends.mps.is_available(),
            gradient_accumulation_steps=t.gradient_accumulation_steps, mixed_precision=mp,
            log_with=t.report_to or None, project_dir=str(self.run_dir),
            dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=t.seed),
        )
        set_seed(t.seed)
        return accelerator

    def _load_data(self, tokenizer, accelerator):
        from .. import data as data_mod

        cfg = self.config
        with accelerator.main_process_first():
            splits = data_mod.load_pairs(cfg.data, tokenizer)
            train = data_mod.tokenize_pairs(splits.train, tokenizer, cfg.data)
            evals = data_mod.tokenize_pairs(splits.eval, tokenizer, cfg.data) if splits.eval is not None and \
                len(splits.eval) > 0 else None
        if len(train) == 0:
            raise ConfigError(f"data.train: no usable training pairs (skipped: {splits.skipped})")
        collator = data_mod.PreferenceCollator(tokenizer.pad_token_id)
        return train, evals, collator, splits

    def _loader(self, ds, batch_size: int, collator, shuffle: bool):
        from torch.utils.data import DataLoader

        keep = [c for c in ds.column_names if c in ("row", "prompt_input_ids", "chosen_input_ids",
                                                      "rejected_input_ids")]
        return DataLoader(ds.select_columns(keep), batch_size=batch_size, shuffle=shuffle, collate_fn=collator)

    # ------------------------------------------------------------------ training
    def train(self) -> TrainResult:
        cfg, t = self.config, self.config.training
        registry = self.registry or get_registry(strict=cfg.strict_plugins)
        self._check_config(registry)
        accelerator = self._make_accelerator()
        ckpt = self._prepare_run_dir(accelerator)
        is_main = accelerator.is_main_process
        device = accelerator.device
        log_file = self.run_dir / "train.log"
        file_handler = None
        if is_main:
            file_handler = logging.FileHandler(log_file)
            file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger("dpok_framework").addHandler(file_handler)
        try:
            return self._train(registry, accelerator, ckpt, device, is_main)
        finally:
            accelerator.end_training()
            if file_handler is not None:
                logging.getLogger("dpok_framework").removeHandler(file_handler)
                file_handler.close()

    def _train(self, registry, accelerator, ckpt, device, is_main) -> TrainResult:
        from ..models import load_models

        cfg, t = self.config, self.config.training
        t0 = time.monotonic()
        with accelerator.main_process_first():  # first use of a builtin converts it once
            models = load_models(cfg.model, gradient_checkpointing=t.gradient_checkpointing)
        policy, reference, tokenizer = models.policy, models.reference, models.tokenizer
        train_ds, eval_ds, collator, splits = self._load_data(tokenizer, accelerator)
        if needs_selection(cfg):  # kernel/divergence `auto`: choose on a sample of the training pairs
            src = reference if reference is not None else policy  # = the initial policy
            src_dev = next(src.parameters()).device
            cfg, _ = resolve_auto(cfg, registry, src.to(device), tokenizer, train_ds,
                                  self.run_dir if is_main else None)
            src.to(src_dev)
            self.config = cfg
        logger.info("data: %d train pairs, %d held-out, %d skipped", len(train_ds),
                    0 if eval_ds is None else len(eval_ds), splits.skipped)
        objective = build_objective(cfg, registry, policy)
        write_component_record(self.run_dir, cfg, registry, enabled=is_main)  # plugins.json: who supplied what
        core = objective  # the unwrapped module (``objective`` becomes the prepared/DDP wrapper below)
        if reference is not None:
            reference.to(device)
        lora = cfg.model.lora is not None

        # -- the reference as a function of a batch ------------------------------------------
        def live_reference(batch: dict) -> ReferenceOutput:
            with torch.no_grad(), accelerator.autocast():
                if lora:
                    base = core.policy
                    with base.disable_adapter():
                        out = _ref_forward(base, batch, core.needs_ref_logits)
                else:
                    out = _ref_forward(reference, batch, core.needs_ref_logits)
            return ReferenceOutput(out.logps.detach(), out.logits.detach() if core.needs_ref_logits else None)

        def initial_model():  # the un-trained policy, also after a resume (kernel refit is then identical)
            if reference is not None and cfg.model.reference is None:
                return reference
            return core.policy

        # -- frozen text embeddings (row ids are per split: separate tables) -----------------
        text_tables: dict[str, TextEmbeddingTable] = {}
        if objective.gamma > 0 and not objective.needs_hidden:
            text_tables = self._text_embeddings(objective.embedder, train_ds, eval_ds, accelerator)

        def embeddings_for(split: str) -> Callable[[dict], Any]:
            table = text_tables.get(split)
            return (lambda batch: table.lookup(batch["row"])) if table is not None else (lambda batch: None)

        # -- kernel fit (+ private covariance) ------------------------------------------------
        kernel = objective.kernel
        if kernel is not None:
            n_fit = min(cfg.kernel.fit_samples, len(train_ds))
            fit_loader = self._loader(train_ds.select(range(n_fit)), t.eval_batch_size or t.batch_size, collator,
                                      shuffle=False)
            if objective.needs_hidden or "train" not in text_tables:
                src = initial_model()
                src_dev = next(src.parameters()).device
                src.to(device)
                if lora:
                    with src.disable_adapter():
                        emb = policy_hidden_embeddings(src, objective.embedder, fit_loader, n_fit, device,
                                                       accelerator.autocast)
                else:
                    emb = policy_hidden_embeddings(src, objective.embedder, fit_loader, n_fit, device,
                                                   accelerator.autocast)
                src.to(src_dev)
                del src  # may be the reference: keep no extra handle on it (freed after a precompute)
            else:
                emb = text_embeddings_for_fit(text_tables["train"], torch.tensor(train_ds.select(range(n_fit))["row"]))
            kernel.to(emb.device)
            kernel.fit(emb.reshape(-1, emb.shape[-1]))  # [3n, d]
            if getattr(kernel, "uses_covariance", False) and cfg.privacy is not None:
                if ckpt is None:
                    release_private_covariance(kernel, emb, cfg.privacy, registry,
                                               self.run_dir if is_main else None)
                else:  # a second noisy release would spend budget for nothing: the checkpoint restores S
                    logger.info("resume: the released covariance is restored from %s; no new release "
                                "(privacy.json kept)", ckpt)
            kernel.to(device)
            logger.info("kernel %r fitted on %d pairs (%d embeddings of dim %d)", cfg.kernel.name, n_fit,
                        3 * emb.shape[0], emb.shape[-1])

        # -- reference log-probs: live or precomputed & cached -------------------------------
        if t.precompute_ref_log_probs:
            ref_tables = {split: self._precompute_reference(reference, objective, lora, ds, collator, accelerator)
                          for split, ds in (("train", train_ds), ("eval", eval_ds)) if ds is not None}

            def reference_for(split: str) -> Callable[[dict], ReferenceOutput]:
                table = ref_tables[split]
                return lambda batch: ReferenceOutput(table.lookup(batch["row"]))

            if reference is not None:  # not needed any more: free its memory
                reference.to("cpu")
                reference = models.reference = None  # `models` held the last reference to it
        else:
            def reference_for(split: str) -> Callable[[dict], ReferenceOutput]:
                return live_reference
        train_reference, eval_reference = reference_for("train"), (reference_for("eval") if eval_ds is not None
                                                                   else None)
        train_embeddings, eval_embeddings = embeddings_for("train"), embeddings_for("eval")

        # -- optimiser, schedule, loaders --------------------------------------------------
        policy_params = [p for p in objective.policy.parameters() if p.requires_grad]
        groups = [{"params": policy_params, "lr": t.lr, "weight_decay": t.weight_decay, "name": "policy"}]
        if kernel is not None:
            kparams = [p for p in kernel.parameters() if p.requires_grad]
            if kparams:
                groups.append({"params": kparams, "lr": cfg.kernel.lr or t.lr, "weight_decay": 0.0,
                               "name": "kernel"})
        optimizer = _adamw(groups, t.lr)
        train_loader = self._loader(train_ds, t.batch_size, collator, shuffle=True)
        eval_loader = self._loader(eval_ds, t.eval_batch_size or t.batch_size, collator, shuffle=False) \
            if eval_ds is not None else None
        if eval_loader is not None:
            objective, optimizer, train_loader, eval_loader = accelerator.prepare(objective, optimizer, train_loader,
                                                                                  eval_loader)
        else:
            objective, optimizer, train_loader = accelerator.prepare(objective, optimizer, train_loader)
        steps_per_epoch = max(1, math.ceil(len(train_loader) / t.gradient_accumulation_steps))
        total_steps = t.max_steps or max(1, math.ceil(t.num_epochs * steps_per_epoch))
        from transformers import get_scheduler

        scheduler = get_scheduler(t.lr_scheduler, optimizer=optimizer, num_warmup_steps=t.warmup_steps,
                                  num_training_steps=total_steps)
        accelerator.register_for_checkpointing(scheduler)

        state = TrainerState()
        writer = MetricsWriter(self.run_dir / "metrics.jsonl", accelerator, enabled=is_main)
        if ckpt is not None:
            accelerator.load_state(str(ckpt))
            state = TrainerState.read(ckpt / STATE_FILE)
            if is_main:
                writer.truncate_after(state.global_step)
            logger.info("resumed from %s (step %d)", ckpt, state.global_step)
        if t.report_to:
            accelerator.init_trackers("dpok", config=_flat_config(cfg.model_dump(mode="json")))

        inner: DpoKernelsObjective = accelerator.unwrap_model(objective)
        global_batch = t.batch_size * t.gradient_accumulation_steps * accelerator.num_processes
        logger.info("training: %d optimizer steps (%d per epoch), global batch %d pairs, %d process(es)%s",
                    total_steps, steps_per_epoch, global_batch, accelerator.num_processes,
                    f", at most {t.max_time_s:g} s" if t.max_time_s else "")
        train_params = [p for g in optimizer.param_groups for p in g["params"]]
        log_acc, step_acc = MetricAccumulator(), MetricAccumulator()
        bar = self._progress_bar(total_steps, state.global_step, is_main)
        stopped_by = "completed"
        time_budget = t.max_time_s
        start_elapsed = state.elapsed_s
        t_loop = time.monotonic()
        step_rows: list[torch.Tensor] = []
        step_loss = torch.zeros((), device=device)

        def elapsed() -> float:
            return start_elapsed + time.monotonic() - t_loop

        done = state.global_step >= total_steps
        while not done:
            train_loader.set_epoch(state.epoch)
            loader = train_loader
            if state.batches_in_epoch:
                loader = accelerator.skip_first_batches(train_loader, state.batches_in_epoch)
            for batch in loader:
                state.batches_in_epoch += 1
                with accelerator.accumulate(objective):
                    out = objective(batch, train_reference(batch), train_embeddings(batch))
                    accelerator.backward(out.loss)
                    step_loss = step_loss + out.loss.detach()
                    step_acc.add_all(out.metrics)
                    step_acc.add("loss", out.loss)
                    step_rows.append(batch["row"])
                    if not accelerator.sync_gradients:
                        continue
                    max_norm = t.max_grad_norm if t.max_grad_norm is not None else float("inf")
                    grad_norm = accelerator.clip_grad_norm_(train_params, max_norm)
                    if grad_norm is None:
                        grad_norm = torch.zeros((), device=device)
                    finite = bool(torch.isfinite(step_loss + grad_norm.to(step_loss.device)).item())
                    if finite:
                        optimizer.step()
                        scheduler.step()
                        state.consecutive_nonfinite = 0
                        log_acc.merge(step_acc)
                        log_acc.add("grad_norm", grad_norm.detach().float())
                    else:
                        state.consecutive_nonfinite += 1
                        state.skipped_steps += 1
                        rows = torch.cat(step_rows).tolist()
                        msg = (f"step {state.global_step + 1}: non-finite loss or gradient "
                               f"(loss={step_loss.item():.4g}, grad_norm={float(grad_norm):.4g}) on the batch of "
                               f"data rows {rows}; skipping this optimizer step "
                               f"({state.consecutive_nonfinite}/{t.max_consecutive_nonfinite} in a row)")
                        warnings.warn(msg, NonFiniteStepWarning, stacklevel=2)
                        logger.warning(msg)
                    optimizer.zero_grad(set_to_none=True)
                    step_acc = MetricAccumulator()
                    step_rows = []
                    step_loss = torch.zeros((), device=device)
                state.global_step += 1
                if state.consecutive_nonfinite >= t.max_consecutive_nonfinite:
                    last = latest_checkpoint(self.run_dir)
                    where = f"the last good checkpoint is {last}" if last else "no checkpoint was written"
                    raise TrainingError(
                        f"stopping: {state.consecutive_nonfinite} optimizer steps in a row had a non-finite loss "
                        f"or gradient (training.max_consecutive_nonfinite={t.max_consecutive_nonfinite}); {where}. "
                        "Lower training.lr, set training.max_grad_norm, or check the data rows named above.")
                epoch_f = state.epoch + min(1.0, state.batches_in_epoch / max(1, len(train_loader)))
                if state.global_step % t.logging_steps == 0 and log_acc:
                    self._log_train(log_acc, accelerator, inner, optimizer, writer, state, epoch_f, bar)
                if bar is not None:
                    bar.update(1)
                if t.eval_steps and eval_loader is not None and state.global_step % t.eval_steps == 0:
                    metrics, _ = evaluate(accelerator, objective, eval_loader, eval_reference, eval_embeddings)
                    writer.write(state.global_step, epoch_f, "eval", metrics)
                if state.global_step >= total_steps:
                    stopped_by = "max_steps" if t.max_steps else "completed"
                    done = True
                elif time_budget is not None and _any_process(accelerator, elapsed() >= time_budget):
                    stopped_by = "max_time"
                    done = True
                # no checkpoint inside a non-finite streak: the newest checkpoint is always a good step
                if t.save_steps and state.consecutive_nonfinite == 0 and (state.global_step % t.save_steps == 0
                                                                          or done):
                    state.elapsed_s = elapsed()
                    save_checkpoint(accelerator, self.run_dir, state, t.save_total_limit)
                if done:
                    break
            else:  # epoch exhausted
                state.epoch += 1
                state.batches_in_epoch = 0
                if t.max_steps and state.global_step < total_steps:
                    continue
                if state.global_step >= total_steps:
                    done = True
        if bar is not None:
            bar.close()
        if log_acc:
            epoch_f = state.epoch + state.batches_in_epoch / max(1, len(train_loader))
            self._log_train(log_acc, accelerator, inner, optimizer, writer, state, epoch_f, None)

        # -- final held-out evaluation and outputs -----------------------------------------
        summary: dict[str, Any] = {"global_step": state.global_step, "stopped_by": stopped_by,
                                   "skipped_steps": state.skipped_steps, "train_time_s": round(elapsed(), 2),
                                   "total_time_s": round(time.monotonic() - t0, 2),
                                   "num_processes": accelerator.num_processes, "beta": inner.beta,
                                   "gamma": inner.gamma, "kernel": cfg.kernel.name,
                                   "link": cfg.divergence.link.name}
        if eval_loader is not None:
            metrics, held_out = evaluate(accelerator, objective, eval_loader, eval_reference, eval_embeddings)
            epoch_f = state.epoch + state.batches_in_epoch / max(1, len(train_loader))
            writer.write(state.global_step, epoch_f, "eval", metrics)
            summary.update(held_out)
        self._save_outputs(accelerator, objective, tokenizer, summary)
        return TrainResult(self.run_dir, state.global_step, summary, stopped_by)

    # ------------------------------------------------------------------ pieces
    def _progress_bar(self, total: int, initial: int, is_main: bool):
        show = self.progress if self.progress is not None else sys.stderr.isatty()
        if not (show and is_main):
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc="dpok train", dynamic_ncols=True)

    def _log_train(self, acc: MetricAccumulator, accelerator, inner, optimizer, writer, state, epoch_f, bar):
        metrics = acc.reduce(accelerator)
        metrics["learning_rate"] = optimizer.param_groups[0]["lr"]
        if inner.kernel is not None:
            for name, w in (inner.kernel.mixture_weights() or {}).items():
                metrics[f"kernel/weights/{name}"] = float(w)
        writer.write(state.global_step, epoch_f, "train", metrics)
        if bar is None and accelerator.is_main_process:
            logger.info("step %d  loss %.4f  reward acc %.3f  reward margin %+.4f  grad_norm %.3g",
                        state.global_step, metrics.get("loss", float("nan")),
                        metrics.get("rewards/accuracies", float("nan")), metrics.get("rewards/margins", float("nan")),
                        metrics.get("grad_norm", float("nan")))
        if bar is not None:
            bar.set_postfix(loss=f"{metrics.get('loss', float('nan')):.4f}",
                            acc=f"{metrics.get('rewards/accuracies', float('nan')):.3f}")

    def _text_embeddings(self, embedder, train_ds, eval_ds, accelerator) -> dict[str, TextEmbeddingTable]:
        from .. import data as data_mod
        from ..models import cache_root

        tables = {}
        with accelerator.main_process_first():
            for split, ds in (("train", train_ds), ("eval", eval_ds)):
                if ds is None:
                    continue
                out = data_mod.compute_text_embeddings(ds, embedder, cache_root() / "embeddings")
                tables[split] = TextEmbeddingTable.from_output(out, ds)
        return tables

    def _precompute_reference(self, reference, objective, lora, ds, collator, accelerator) -> RefLogpTable:
        """Reference log-probs of every pair of ``ds``, from the on-disk cache when the key matches."""
        from ..models import cache_root

        cfg, t = self.config, self.config.training
        ref_model = reference
        if lora:  # the base model: the policy with its adapter disabled
            ref_model = objective.policy
        data_fp = data_fingerprint(ds)
        ctx = ref_model.disable_adapter() if lora else _nullcontext()
        with ctx:
            weights_fp = weights_fingerprint(ref_model)
            path = cache_path(cache_root(), data_fp, weights_fp, f"{cfg.model.dtype}:{t.mixed_precision}")
            with accelerator.main_process_first():
                table = load_table(path)
                if table is not None:
                    logger.info("reference log-probs: cache hit %s", path)
                else:
                    logger.info("reference log-probs: computing (cache miss %s)", path)
                    ref_model.to(accelerator.device)
                    loader = self._loader(ds, t.eval_batch_size or t.batch_size, collator, shuffle=False)
                    table = compute_ref_table(ref_model, loader, accelerator.device, accelerator.autocast)
                    if lora:
                        ref_model.train()
                    if accelerator.is_main_process:
                        save_table(table, path)
        self.ref_cache_paths.append(path)
        return table

    def _save_outputs(self, accelerator, objective, tokenizer, summary: dict) -> None:
        cfg = self.config
        accelerator.wait_for_everyone()
        inner = accelerator.unwrap_model(objective)
        full = _gathered_state(accelerator, objective)  # every process: a collective under FSDP / ZeRO-3
        if accelerator.is_main_process:
            if inner.kernel is not None:
                torch.save(_sub_state(full, "kernel.") if full is not None else inner.kernel.state_dict(),
                           self.run_dir / "kernel.pt")
            if cfg.output.save_model:
                _save_model_atomic(inner.policy, tokenizer, self.run_dir / "model", cfg.model.lora is not None,
                                   accelerator, state_dict=_sub_state(full, "policy.") if full is not None else None)
            summary["run_dir"] = str(self.run_dir)
            (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        accelerator.wait_for_everyone()


def _adamw(groups: list[dict], lr: float) -> torch.optim.Optimizer:
    """AdamW with the fused kernel where the device has one (on CPU the per-tensor loop is ~50x slower)."""
    try:
        return torch.optim.AdamW(groups, lr=lr, fused=True)
    except (RuntimeError, ValueError, TypeError):
        return torch.optim.AdamW(groups, lr=lr)


def _flat_config(d: dict, prefix: str = "") -> dict:
    """Nested config -> ``{"a.b": scalar}`` (trackers such as TensorBoard take flat hparams only)."""
    flat = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(_flat_config(v, key + "."))
        elif v is None or isinstance(v, (list, tuple)):
            flat[key] = str(v)
        else:
            flat[key] = v
    return flat


def _ref_forward(model, batch, need_logits: bool):
    from .logps import forward_logps

    return forward_logps(model, batch, need_logits=need_logits)


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _any_process(accelerator, flag: bool) -> bool:
    """The same stop decision on every process (each may read its own clock)."""
    if accelerator.num_processes == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(t, reduction="sum").item() > 0)


def _gathered_state(accelerator, objective) -> dict | None:
    """The objective's full state dict when its parameters are sharded (FSDP, DeepSpeed), else None.

    Must run on every process: under FSDP/ZeRO-3 ``get_state_dict`` all-gathers (onto the main process).
    """
    from accelerate.utils import DistributedType

    if accelerator.distributed_type not in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        return None
    return accelerator.get_state_dict(objective)


def _sub_state(state: dict, prefix: str) -> dict:
    """Entries of ``state`` under ``prefix`` (e.g. ``policy.``), with the prefix removed."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _save_model_atomic(policy, tokenizer, out: Path, lora: bool, accelerator, state_dict: dict | None = None
                       ) -> None:
    """save_pretrained (safetensors) + tokenizer into ``out`` via a temp dir + rename. With LoRA the
    adapter goes to ``out/adapter`` and the merged model to ``out``. ``state_dict``: gathered full
    weights of a sharded policy (see :func:`_gathered_state`)."""
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=".model.tmp-", dir=out.parent))
    try:
        if lora:
            policy.save_pretrained(tmp / "adapter", safe_serialization=True)
            merged = policy.merge_and_unload() if hasattr(policy, "merge_and_unload") else policy
            merged.save_pretrained(tmp, safe_serialization=True)
        else:
            accelerator.unwrap_model(policy).save_pretrained(tmp, safe_serialization=True, state_dict=state_dict)
        tokenizer.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
