"""The whole run configuration and its cross-field checks (those that need no plugins)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from .base import Section
from .data import DataConfig
from .model import ModelConfig
from .objective import DivergenceConfig, KernelConfig, LossConfig
from .output import OutputConfig
from .privacy import PrivacyConfig
from .selection import SelectionConfig
from .training import TrainingConfig

AUTO = "auto"


class RunConfig(Section):
    """Everything a training run needs. Load with :func:`dpok_framework.config.load_config`."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    kernel: KernelConfig = Field(default_factory=KernelConfig)
    divergence: DivergenceConfig = Field(default_factory=DivergenceConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    privacy: PrivacyConfig | None = None
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    strict_plugins: bool = Field(False, description="Fail if any installed dpok plugin fails to load.")
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Settings of lifecycle-hook "
                                               "plugins by plugin name, e.g. {early_stopping: {patience: 2}}.")

    @model_validator(mode="after")
    def _cross_field(self) -> "RunConfig":
        k, d, t = self.kernel, self.divergence, self.training
        if k.gamma > 0 and k.name is None:
            raise ValueError("kernel.gamma > 0 needs a kernel: set kernel.name (e.g. `rbf`, or `auto`), "
                             "or set kernel.gamma: 0")
        if k.entropy_weight > 0 and k.name is None:
            raise ValueError("kernel.entropy_weight > 0 needs a kernel with a regulariser (e.g. a mixture)")
        if d.alpha > 0 and d.penalty is None:
            raise ValueError("divergence.alpha > 0 needs divergence.penalty (e.g. `js`), or set divergence.alpha: 0")
        if d.penalty is not None and d.alpha == 0:
            raise ValueError(f"divergence.penalty is {d.penalty.name!r} but divergence.alpha is 0, so it would "
                             "have no effect: set divergence.alpha > 0 or remove divergence.penalty")
        if t.precompute_ref_log_probs and d.penalty is not None:
            raise ValueError("training.precompute_ref_log_probs caches only summed reference log-probs, but "
                             f"divergence.penalty ({d.penalty.name!r}) needs the reference's full token "
                             "distributions at every step: disable one of the two")
        if t.sync_ref_model and t.precompute_ref_log_probs:
            raise ValueError("training.sync_ref_model updates the reference during training, so its log-probs "
                             "cannot be precomputed: disable training.precompute_ref_log_probs")
        if t.sync_ref_model and self.model.lora is not None:
            raise ValueError("training.sync_ref_model needs a separate reference copy, but model.lora uses the "
                             "base model with the adapter disabled: remove one of the two")
        if self.model.lora is not None and self.model.reference is not None:
            raise ValueError("model.lora takes the reference from the base model with the adapter disabled; "
                             "remove model.reference")
        if self.privacy is not None and k.name is None:
            raise ValueError("privacy protects the kernel's covariance estimate, but no kernel is configured: "
                             "set kernel.name (e.g. `mahalanobis`) or remove the privacy section")
        return self
