"""The step loop: micro-batches, gradient accumulation, non-finite-step guard, logging, periodic held-out
evaluation, checkpoints, reference sync and the stop conditions (max_steps, max_time, a hook's request)."""

from __future__ import annotations

import logging
import time
import warnings

import torch

from ..errors import DpokError
from .accelerator import any_process
from .checkpoint import latest_checkpoint, save_checkpoint
from .evaluate import evaluate
from .metrics import MetricAccumulator
from .progress import progress_bar, report_step

logger = logging.getLogger(__name__)


class TrainingError(DpokError):
    """Training cannot continue (e.g. too many non-finite steps in a row); the message says why and
    where the last good checkpoint is."""


class NonFiniteStepWarning(UserWarning):
    """An optimiser step was skipped because its loss or gradient was NaN/inf."""


class StepLoop:
    """Runs a :class:`~dpok_framework.training.trainer.Session` from its state to the end of training."""

    def __init__(self, session, progress: bool | None = None) -> None:
        self.s = session
        self.t = session.config.training
        self.log_acc, self.step_acc = MetricAccumulator(), MetricAccumulator()
        self.step_rows: list[torch.Tensor] = []
        self.step_loss = torch.zeros((), device=session.accelerator.device)
        self.train_params = [p for g in session.optimizer.param_groups for p in g["params"]]
        self.bar = progress_bar(progress, session.total_steps, session.state.global_step,
                                session.accelerator.is_main_process)
        self.last_eval_step: int | None = None
        self.start_elapsed, self.t_loop = session.state.elapsed_s, time.monotonic()

    def elapsed(self) -> float:
        return self.start_elapsed + time.monotonic() - self.t_loop

    def epoch_f(self) -> float:
        st = self.s.state
        return st.epoch + min(1.0, st.batches_in_epoch / max(1, len(self.s.train_loader)))

    # ------------------------------------------------------------------ the loop
    def run(self) -> str:
        """Train until a stop condition; returns ``stopped_by`` (completed | max_steps | max_time | hook:<why>)."""
        s, st = self.s, self.s.state
        stopped_by = None if st.global_step < s.total_steps else "completed"
        while stopped_by is None:
            s.train_loader.set_epoch(st.epoch)
            loader = s.train_loader
            if st.batches_in_epoch:
                loader = s.accelerator.skip_first_batches(s.train_loader, st.batches_in_epoch)
            for batch in loader:
                st.batches_in_epoch += 1
                if not self.micro_step(batch):
                    continue
                stopped_by = self.after_step()
                if stopped_by is not None:
                    break
            else:  # epoch exhausted
                st.epoch += 1
                st.batches_in_epoch = 0
                if st.global_step >= s.total_steps:
                    stopped_by = "completed"
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.log_acc:
            self.log_train()
        return stopped_by

    def micro_step(self, batch: dict) -> bool:
        """Forward/backward of one micro-batch; True when it completed an optimiser step."""
        s = self.s
        with s.accelerator.accumulate(s.objective):
            out = s.objective(batch, s.train_reference(batch), s.train_embeddings(batch))
            s.accelerator.backward(out.loss)
            self.step_loss = self.step_loss + out.loss.detach()
            self.step_acc.add_all(out.metrics)
            self.step_acc.add("loss", out.loss)
            self.step_rows.append(batch["row"])
            if not s.accelerator.sync_gradients:
                return False
            self.optimizer_step()
        return True

    def optimizer_step(self) -> None:
        """Clip, then step, or skip the step when the loss or the gradient is not finite."""
        s, st, t = self.s, self.s.state, self.t
        device = s.accelerator.device
        grad_norm = s.accelerator.clip_grad_norm_(self.train_params, t.max_grad_norm or float("inf"))
        if grad_norm is None:
            grad_norm = torch.zeros((), device=device)
        if bool(torch.isfinite(self.step_loss + grad_norm.to(self.step_loss.device)).item()):
            s.optimizer.step()
            s.scheduler.step()
            st.consecutive_nonfinite = 0
            self.log_acc.merge(self.step_acc)
            self.log_acc.add("grad_norm", grad_norm.detach().float())
        else:
            st.consecutive_nonfinite += 1
            st.skipped_steps += 1
            msg = (f"step {st.global_step + 1}: non-finite loss or gradient (loss={self.step_loss.item():.4g}, "
                   f"grad_norm={float(grad_norm):.4g}) on the batch of data rows "
                   f"{torch.cat(self.step_rows).tolist()}; skipping this optimizer step "
                   f"({st.consecutive_nonfinite}/{t.max_consecutive_nonfinite} in a row)")
            warnings.warn(msg, NonFiniteStepWarning, stacklevel=2)
            logger.warning(msg)
        s.optimizer.zero_grad(set_to_none=True)
        self.step_acc, self.step_rows = MetricAccumulator(), []
        self.step_loss = torch.zeros((), device=device)

    def after_step(self) -> str | None:
        """Book-keeping after an optimiser step; the reason to stop, or None to go on."""
        s, st, t = self.s, self.s.state, self.t
        st.global_step += 1
        self.check_nonfinite_streak()
        s.reference.after_step(st.global_step, s.inner.policy)
        s.lifecycle.state.global_step, s.lifecycle.state.epoch = st.global_step, self.epoch_f()
        if st.global_step % t.logging_steps == 0 and self.log_acc:
            self.log_train()
        else:
            for k, v in s.lifecycle.step_end({}).items():
                self.log_acc.add(k, torch.tensor(v))
        if self.bar is not None:
            self.bar.update(1)
        if t.eval_steps and s.eval_loader is not None and st.global_step % t.eval_steps == 0:
            self.evaluate()
        stopped_by = self.stop_reason()
        # no checkpoint inside a non-finite streak: the newest checkpoint is always a good step
        if t.save_steps and st.consecutive_nonfinite == 0 and (st.global_step % t.save_steps == 0 or stopped_by):
            self.save()
        return stopped_by

    def stop_reason(self) -> str | None:
        s, st, t = self.s, self.s.state, self.t
        if st.global_step >= s.total_steps:
            return "max_steps" if t.max_steps else "completed"
        if t.max_time_s is not None and any_process(s.accelerator, self.elapsed() >= t.max_time_s):
            return "max_time"
        hook = s.lifecycle.state
        if any_process(s.accelerator, hook.stop_requested):
            logger.info("step %d: stop requested by a plugin: %s", st.global_step, hook.stop_reason)
            return f"hook: {hook.stop_reason or 'requested on another process'}"
        return None

    def check_nonfinite_streak(self) -> None:
        st, t = self.s.state, self.t
        if st.consecutive_nonfinite >= t.max_consecutive_nonfinite:
            last = latest_checkpoint(self.s.run_dir)
            where = f"the last good checkpoint is {last}" if last else "no checkpoint was written"
            raise TrainingError(
                f"stopping: {st.consecutive_nonfinite} optimizer steps in a row had a non-finite loss "
                f"or gradient (training.max_consecutive_nonfinite={t.max_consecutive_nonfinite}); {where}. "
                "Lower training.lr, set training.max_grad_norm, or check the data rows named above.")

    # ------------------------------------------------------------------ rows, evaluation, checkpoints
    def log_train(self) -> None:
        s = self.s
        metrics = self.log_acc.reduce(s.accelerator)
        metrics["learning_rate"] = s.optimizer.param_groups[0]["lr"]
        if s.inner.kernel is not None:
            for name, w in (s.inner.kernel.mixture_weights() or {}).items():
                metrics[f"kernel/weights/{name}"] = float(w)
        metrics.update(s.lifecycle.step_end(metrics))
        s.writer.write(s.state.global_step, self.epoch_f(), "train", metrics)
        report_step(self.bar, s.state.global_step, metrics, s.accelerator.is_main_process)

    def evaluate(self) -> dict:
        """Held-out metrics of the current policy (once per step at most); returns the summary."""
        s = self.s
        metrics, summary = evaluate(s.accelerator, s.objective, s.eval_loader, s.eval_reference, s.eval_embeddings)
        metrics.update(s.lifecycle.evaluate(metrics))
        s.writer.write(s.state.global_step, self.epoch_f(), "eval", metrics)
        self.last_eval_step, self.last_eval_summary = s.state.global_step, summary
        return summary

    def final_evaluation(self) -> dict:
        """The summary's held-out block; re-uses the evaluation of this very step if one just ran."""
        if self.s.eval_loader is None:
            return {}
        if self.last_eval_step == self.s.state.global_step:
            return self.last_eval_summary
        return self.evaluate()

    def save(self) -> None:
        s = self.s
        s.state.elapsed_s = self.elapsed()
        save_checkpoint(s.accelerator, s.run_dir, s.state, self.t.save_total_limit,
                        writers=(s.reference.save, s.lifecycle.save))
