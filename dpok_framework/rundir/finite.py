"""The finite guard: parameters are checked after every optimiser update and before every save, so a
policy holding NaN/inf is never written to ``model/`` or a checkpoint, and never named a good checkpoint.

The step loop already skips a step whose loss or gradient is non-finite; this catches what that check
cannot see: an update that overflows from finite inputs (a huge learning rate, an optimiser state that
went bad), which on its own would leave every later step finite-looking but the weights inf.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

from ..errors import DpokError

MAX_NAMED = 5


class NonFiniteWeightsError(DpokError):
    """Parameters became NaN/inf; nothing was saved from that point on. The run exits non-zero."""


def nonfinite_parameters(named: Iterable[tuple[str, torch.Tensor]]) -> list[str]:
    """Names of the parameters holding a NaN or inf (one host sync for all of them)."""
    named = [(n, p) for n, p in named if p.numel()]
    if not named:
        return []
    flags = torch.stack([torch.isfinite(p.detach()).all() for _, p in named])  # [P] bool, one sync below
    if bool(flags.all().item()):
        return []
    return [n for (n, _), ok in zip(named, flags.tolist()) if not ok]


def require_finite(module: torch.nn.Module, when: str, last_good: Callable[[], Any] | None = None,
                   accelerator=None) -> None:
    """Raise :class:`NonFiniteWeightsError` naming the parameters when ``module`` is not finite.

    ``when``: what was about to happen (``after the optimizer update of step 7``, ``before saving model/``);
    ``last_good``: returns the newest checkpoint (called only on failure: all of them are finite).
    With several processes the verdict is shared (sharded parameters differ per process).
    """
    bad = nonfinite_parameters((n, p) for n, p in module.named_parameters() if p.requires_grad)
    any_bad = bool(bad)
    if accelerator is not None and accelerator.num_processes > 1:
        flag = torch.tensor([1.0 if bad else 0.0], device=accelerator.device)
        any_bad = bool(accelerator.reduce(flag, reduction="sum").item() > 0)
    if not any_bad:
        return
    named = ", ".join(bad[:MAX_NAMED]) + (", ..." if len(bad) > MAX_NAMED else "") or "on another process"
    good = last_good() if last_good is not None else None
    where = f"the last good checkpoint is {good}" if good else "no checkpoint was written"
    raise NonFiniteWeightsError(
        f"the policy's parameters are not finite {when} ({len(bad)} tensor(s): {named}); nothing more is saved "
        f"and {where}. Lower training.lr or set training.max_grad_norm, then resume from that checkpoint "
        "or start again")
