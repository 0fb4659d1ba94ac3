"""What a person watching the run sees: the tqdm bar (on a terminal) or one log line per logging step."""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("dpok_framework.training")


def progress_bar(show: bool | None, total: int, initial: int, is_main: bool):
    show = show if show is not None else sys.stderr.isatty()
    if not (show and is_main):
        return None
    from tqdm.auto import tqdm  # only when a bar is shown

    return tqdm(total=total, initial=initial, desc="dpok train", dynamic_ncols=True)


def report_step(bar, step: int, metrics: dict[str, float], is_main: bool) -> None:
    nan = float("nan")
    if bar is not None:
        bar.set_postfix(loss=f"{metrics.get('loss', nan):.4f}", acc=f"{metrics.get('rewards/accuracies', nan):.3f}")
    elif is_main:
        logger.info("step %d  loss %.4f  reward acc %.3f  reward margin %+.4f  grad_norm %.3g", step,
                    metrics.get("loss", nan), metrics.get("rewards/accuracies", nan),
                    metrics.get("rewards/margins", nan), metrics.get("grad_norm", nan))
