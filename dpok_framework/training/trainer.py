"""The training engine: ``Engine(config).train()`` aligns a causal LM with the DPO-Kernels objective.

In the torchtune recipe manner, :meth:`Engine.setup` builds everything a run needs into a :class:`Session`
(accelerator, run directory, models, data, `auto` selection, objective, kernel fit, :class:`Reference`,
optimiser, loaders, schedule, resume) and :meth:`Engine.train` runs the :class:`~.loop.StepLoop` on it, then
the final evaluation and the outputs. Everything distributed goes through Accelerate, so the same code runs
in one process, under ``accelerate launch`` or ``torchrun``. Components come from the plugin registry only;
behaviour plugins through the lifecycle hooks (:mod:`.lifecycle`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from ..config import RunConfig, validate_components
from ..errors import ConfigError
from ..lifecycle import Lifecycle, RunState
from ..models import cache_root, load_models
from ..objective.kernel_fit import fit_kernel, policy_hidden_embeddings, text_embeddings_for_fit
from ..objective.objective import build_objective
from ..registry import Registry, get_registry
from ..selection import needs_selection, resolve_auto
from .accelerator import make_accelerator
from .checkpoint import TrainerState, load_checkpoint
from .data_setup import load_data, make_loader, text_embedding_tables
from .loop import NonFiniteStepWarning, StepLoop, TrainingError
from .metrics import MetricsWriter
from .optim import build_optimizer, build_scheduler
from .outputs import save_outputs
from .reference import Reference
from .rundir import prepare_run_dir, train_log

logger = logging.getLogger(__name__)

__all__ = ["Engine", "TrainResult", "Session", "TrainingError", "NonFiniteStepWarning"]


@dataclass
class TrainResult:
    run_dir: Path
    global_step: int
    summary: dict = field(default_factory=dict)
    stopped_by: str = "completed"  # completed | max_steps | max_time | hook: <reason>


@dataclass
class Session:
    """Everything :meth:`Engine.setup` built; the step loop and the outputs work on it."""

    config: RunConfig
    run_dir: Path
    accelerator: Any
    tokenizer: Any
    objective: Any  # the prepared (possibly DDP-wrapped) objective
    inner: Any  # the unwrapped DpoKernelsObjective
    reference: Reference
    optimizer: Any = None
    scheduler: Any = None
    train_loader: Any = None
    eval_loader: Any = None
    train_reference: Callable = None
    eval_reference: Callable | None = None
    train_embeddings: Callable = None
    eval_embeddings: Callable = None
    state: TrainerState = field(default_factory=TrainerState)
    writer: MetricsWriter | None = None
    lifecycle: Lifecycle | None = None
    total_steps: int = 0
    steps_per_epoch: int = 0
    t0: float = field(default_factory=time.monotonic)


class Engine:
    """Train a policy on preference pairs.

    >>> from dpok_framework.config import load_config
    >>> Engine(load_config("run.yaml")).train()          # doctest: +SKIP

    ``train_dataset`` / ``eval_dataset``: in-memory pairs instead of ``data.train`` / ``data.eval`` (passed to
    :func:`dpok_framework.data.load_pairs`). ``resume=True`` continues from the latest checkpoint of
    ``config.output.dir``. ``registry``: a registry to build components and run lifecycle hooks from
    (default: the process-wide one).
    """

    def __init__(self, config: RunConfig, *, train_dataset=None, eval_dataset=None, resume: bool = False,
                 registry: Registry | None = None, progress: bool | None = None) -> None:
        self.config = config
        self.train_dataset, self.eval_dataset = train_dataset, eval_dataset
        self.resume = resume
        self.registry = registry
        self.progress = progress
        self.run_dir = Path(config.output.dir)
        self.ref_cache_paths: list[Path] = []  # reference log-prob cache files used (precompute)
        self.session: Session | None = None

    # ------------------------------------------------------------------ public
    def train(self) -> TrainResult:
        """Set up (unless :meth:`setup` ran), train, evaluate on the held-out pairs, save the outputs."""
        session = self.session or self.setup()
        try:
            with train_log(self.run_dir, session.accelerator.is_main_process):
                return self._run(session)
        finally:
            session.accelerator.end_training()
            self.session = None

    def setup(self) -> Session:
        """Build the :class:`Session` (see the module docstring); a resumed run restores its checkpoint here."""
        cfg = self.config
        registry = self.registry or get_registry(strict=cfg.strict_plugins)
        self._check_config(registry)
        accelerator = make_accelerator(cfg.training, self.run_dir)
        ckpt = prepare_run_dir(accelerator, self.run_dir, cfg, self.resume)
        with train_log(self.run_dir, accelerator.is_main_process):
            session = self._build(registry, accelerator, ckpt)
        self.session = session
        return session

    # ------------------------------------------------------------------ set-up steps
    def _check_config(self, registry: Registry) -> None:
        cfg = self.config
        validate_components(cfg, registry)
        if cfg.privacy is not None and not registry.names("privacy_wrapper"):
            raise ConfigError(f"privacy.wrapper: {cfg.privacy.wrapper!r} is not available: no privacy wrapper "
                              "plugin is installed (install dpok-privacy) or remove the privacy section")

    def _build(self, registry, accelerator, ckpt) -> Session:
        cfg, t, t0 = self.config, self.config.training, time.monotonic()
        with accelerator.main_process_first():  # first use of a builtin converts it once
            models = load_models(cfg.model, gradient_checkpointing=t.gradient_checkpointing)
        train_ds, eval_ds, collator, splits = load_data(cfg, models.tokenizer, accelerator, self.train_dataset,
                                                        self.eval_dataset)
        if needs_selection(cfg):  # kernel/divergence `auto`: choose on a sample of the training pairs
            src = models.reference if models.reference is not None else models.policy  # = the initial policy
            src_dev = next(src.parameters()).device
            self.config, _ = resolve_auto(cfg, registry, src.to(accelerator.device), models.tokenizer, train_ds,
                                          self.run_dir if accelerator.is_main_process else None)
            src.to(src_dev)
            cfg = self.config
        logger.info("data: %d train pairs, %d held-out, %d skipped", len(train_ds),
                    0 if eval_ds is None else len(eval_ds), splits.skipped)
        objective = build_objective(cfg, registry, models.policy)
        reference = Reference.from_config(cfg, models.reference, objective.policy, accelerator,
                                          needs_logits=objective.needs_ref_logits).to(accelerator.device)
        models.reference = None  # the Reference owns it now (and frees it after a precompute)
        s = Session(cfg, self.run_dir, accelerator, models.tokenizer, objective, objective, reference, t0=t0)
        tables = self._embeddings(s, train_ds, eval_ds)
        self._fit_kernel(s, registry, train_ds, collator, tables, resumed=ckpt is not None)
        self._reference(s, train_ds, eval_ds, collator)
        self._prepare(s, train_ds, eval_ds, collator)
        self._restore(s, ckpt, registry)
        return s

    def _embeddings(self, s: Session, train_ds, eval_ds) -> dict:
        """Frozen text embeddings per split, and the lookup the objective gets per batch."""
        objective = s.objective
        tables = {}
        if objective.gamma > 0 and not objective.needs_hidden:
            tables = text_embedding_tables(objective.embedder, {"train": train_ds, "eval": eval_ds}, s.accelerator)

        def embeddings_for(split: str) -> Callable[[dict], Any]:
            table = tables.get(split)
            return (lambda batch: table.lookup(batch["row"])) if table is not None else (lambda batch: None)

        s.train_embeddings, s.eval_embeddings = embeddings_for("train"), embeddings_for("eval")
        return tables

    def _fit_kernel(self, s: Session, registry, train_ds, collator, tables: dict, resumed: bool) -> None:
        """Fit the kernel on the first ``kernel.fit_samples`` pairs, embedded by the initial policy (the
        reference, before any training or sync) or the frozen text encoder; then the private release."""
        cfg, acc, objective = s.config, s.accelerator, s.objective
        if objective.kernel is None:
            return
        n_fit = min(cfg.kernel.fit_samples, len(train_ds))
        if objective.needs_hidden or "train" not in tables:
            fit_loader = make_loader(train_ds.select(range(n_fit)), cfg.training.eval_batch_size
                                     or cfg.training.batch_size, collator, shuffle=False)
            initial_is_ref = cfg.model.reference is None  # else the policy itself is the initial model
            with s.reference.active() if initial_is_ref else contextlib.nullcontext():
                src = s.reference.network() if initial_is_ref else objective.policy
                src_dev = next(src.parameters()).device
                emb = policy_hidden_embeddings(src.to(acc.device), objective.embedder, fit_loader, n_fit, acc.device,
                                               acc.autocast)
                src.to(src_dev)
        else:
            emb = text_embeddings_for_fit(tables["train"], torch.tensor(train_ds.select(range(n_fit))["row"]))
        if resumed and cfg.privacy is not None:
            logger.info("resume: the released covariance is restored from the checkpoint; no new release "
                        "(privacy.json kept)")
        fit_kernel(objective.kernel, emb, cfg.privacy, registry, self.run_dir if acc.is_main_process else None,
                   release=not resumed)
        objective.kernel.to(acc.device)
        logger.info("kernel %r fitted on %d pairs (%d embeddings of dim %d)", cfg.kernel.name, n_fit,
                    3 * emb.shape[0], emb.shape[-1])

    def _reference(self, s: Session, train_ds, eval_ds, collator) -> None:
        t = s.config.training
        if s.reference.mode == "precomputed":
            s.reference.precompute({"train": train_ds, "eval": eval_ds},
                                   lambda ds: make_loader(ds, t.eval_batch_size or t.batch_size, collator, False),
                                   f"{s.config.model.dtype}:{t.mixed_precision}", cache_root())
            self.ref_cache_paths.extend(s.reference.cache_paths)
        s.train_reference = s.reference.for_split("train")
        s.eval_reference = s.reference.for_split("eval") if eval_ds is not None else None

    def _prepare(self, s: Session, train_ds, eval_ds, collator) -> None:
        """Optimiser, loaders and schedule, prepared by Accelerate."""
        t, acc = s.config.training, s.accelerator
        optimizer = build_optimizer(s.objective, s.config)
        train_loader = make_loader(train_ds, t.batch_size, collator, shuffle=True)
        if eval_ds is not None:
            eval_loader = make_loader(eval_ds, t.eval_batch_size or t.batch_size, collator, shuffle=False)
            s.objective, s.optimizer, s.train_loader, s.eval_loader = acc.prepare(s.objective, optimizer,
                                                                                  train_loader, eval_loader)
        else:
            s.objective, s.optimizer, s.train_loader = acc.prepare(s.objective, optimizer, train_loader)
        s.inner = acc.unwrap_model(s.objective)
        s.steps_per_epoch = max(1, math.ceil(len(s.train_loader) / t.gradient_accumulation_steps))
        s.total_steps = t.max_steps or max(1, math.ceil(t.num_epochs * s.steps_per_epoch))
        s.scheduler = build_scheduler(s.optimizer, t, s.total_steps)
        acc.register_for_checkpointing(s.scheduler)

    def _restore(self, s: Session, ckpt: Path | None, registry) -> None:
        """Resume from ``ckpt`` (if any), open metrics.jsonl, the trackers and the lifecycle hooks."""
        acc, cfg, t = s.accelerator, s.config, s.config.training
        s.writer = MetricsWriter(self.run_dir / "metrics.jsonl", acc, enabled=acc.is_main_process)
        if ckpt is not None:
            s.state = load_checkpoint(acc, ckpt, readers=(s.reference.load,))
            if acc.is_main_process:
                s.writer.truncate_after(s.state.global_step)
            logger.info("resumed from %s (step %d)", ckpt, s.state.global_step)
        if t.report_to:
            acc.init_trackers("dpok", config=flat_config(cfg.model_dump(mode="json")))
        s.lifecycle = Lifecycle(registry.manager, RunState(s.state.global_step, s.total_steps, float(s.state.epoch),
                                                           self.run_dir, cfg, acc.is_main_process,
                                                           resumed_from=ckpt, _settings=cfg.plugins))

    # ------------------------------------------------------------------ training
    def _run(self, s: Session) -> TrainResult:
        t, acc = s.config.training, s.accelerator
        logger.info("training: %d optimizer steps (%d per epoch), global batch %d pairs, %d process(es)%s",
                    s.total_steps, s.steps_per_epoch, t.batch_size * t.gradient_accumulation_steps * acc.num_processes,
                    acc.num_processes, f", at most {t.max_time_s:g} s" if t.max_time_s else "")
        s.lifecycle.train_start()
        loop = StepLoop(s, self.progress)
        stopped_by = loop.run()
        summary: dict[str, Any] = {"global_step": s.state.global_step, "stopped_by": stopped_by,
                                   "skipped_steps": s.state.skipped_steps, "train_time_s": round(loop.elapsed(), 2),
                                   "total_time_s": round(time.monotonic() - s.t0, 2),
                                   "num_processes": acc.num_processes, "beta": s.inner.beta, "gamma": s.inner.gamma,
                                   "kernel": s.config.kernel.name, "link": s.config.divergence.link.name,
                                   "reference_mode": s.reference.mode}
        summary.update(loop.final_evaluation())
        save_outputs(acc, s.objective, s.tokenizer, s.config, self.run_dir, summary)
        s.lifecycle.train_end(summary)
        return TrainResult(self.run_dir, s.state.global_step, summary, stopped_by)


def flat_config(d: dict, prefix: str = "") -> dict:
    """Nested config -> ``{"a.b": scalar}`` (trackers such as TensorBoard take flat hparams only)."""
    flat = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(flat_config(v, key + "."))
        elif v is None or isinstance(v, (list, tuple)):
            flat[key] = str(v)
        else:
            flat[key] = v
    return flat
