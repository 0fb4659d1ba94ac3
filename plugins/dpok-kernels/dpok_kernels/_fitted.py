"""Shared by kernels whose bandwidth may be the data's median distance (``rbf``, ``spectral``)."""

from __future__ import annotations

from typing import ClassVar

import torch


class MedianFitted:
    """A ``fitted`` flag that travels with ``state_dict()`` (as a tensor: safetensors/accelerate checkpoints
    need tensor values), so a checkpointed kernel reloads ready to use; ``median_param`` names the
    parameter that ``fit`` estimates, for the error raised when it was not called."""

    median_param: ClassVar[str]
    fitted: bool

    def get_extra_state(self) -> torch.Tensor:
        return torch.tensor([float(self.fitted)], dtype=torch.float64)

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.fitted = bool(state[0] > 0.5)

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{self.name} kernel: {self.median_param}='median' is estimated by "
                               f"kernel.fit(embeddings); call fit() first or set params.{self.median_param} "
                               "to a number")
