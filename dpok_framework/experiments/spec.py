"""The sweep file (``dpok sweep SWEEP.yaml``): a base run configuration plus axes over config fields.

.. code-block:: yaml

    name: kernels_x_divergences
    base: ../configs/run.yaml          # a run config file (relative to this file) or an inline mapping
    set: {training.max_time_s: 60}     # dotted overrides applied to every cell
    axes:                              # the grid is their product, in this order
      kernel:                          # a labelled axis: label -> dotted overrides
        rbf: {kernel.name: rbf, kernel.params: {sigma: median}}
        hmk: {kernel.name: hmk, kernel.params: {}}
      divergence.link: [kl, js]        # a field axis: one field, a list of values (labels = the values)
    seeds: [0]                         # training.seed of every cell (mean and spread over seeds)
    baseline: {label: dpo, set: {kernel.name: null, kernel.gamma: 0.0}}   # compared with every cell
    metric: rewards/accuracies         # primary metric of the verdict (or logps/accuracies)
    alpha: 0.05                        # family-wise level (Holm across cells)
    out_dir: sweeps/kernels_x_divergences

Every cell is an ordinary run directory ``OUTPUT/runs/<name>`` where the name joins the axis labels,
e.g. ``kernel-rbf__divergence.link-js__seed-0``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..config.loading import format_validation_error, read_config_file
from ..errors import ConfigError

METRICS = ("rewards/accuracies", "logps/accuracies")
_SAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


def slug(text: Any) -> str:
    """A file-name-safe label: anything outside ``[A-Za-z0-9._=+-]`` becomes ``_``."""
    return _SAFE.sub("_", str(text)).strip("_") or "_"


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field("baseline", description="Name of the baseline row (e.g. dpo).")
    set: dict[str, Any] = Field(default_factory=dict, description="Dotted overrides of the base config.")


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    base: str | dict[str, Any] = Field(default_factory=dict, description="Run config file or inline mapping.")
    set: dict[str, Any] = Field(default_factory=dict)
    axes: dict[str, list[Any] | dict[str, dict[str, Any]]]
    seeds: list[int] = Field(default_factory=lambda: [0])
    baseline: Baseline | None = None
    metric: str = "rewards/accuracies"
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    level: float = Field(0.95, gt=0.0, lt=1.0, description="Confidence level of the intervals.")
    resamples: int = Field(10_000, gt=99, description="Bootstrap resamples.")
    out_dir: str | None = Field(None, description="Sweep directory (default: sweeps/<name>).")
    source: str | None = Field(None, exclude=True)

    @field_validator("axes")
    @classmethod
    def _axes(cls, v: dict) -> dict:
        if not v:
            raise ValueError("at least one axis is needed")
        for name, values in v.items():
            if not values:
                raise ValueError(f"axis {name!r} has no values")
            if isinstance(values, dict):
                labels = [slug(k) for k in values]
            else:
                labels = [slug(x) for x in values]
            if len(set(labels)) != len(labels):
                raise ValueError(f"axis {name!r}: two values give the same directory label {labels}")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v or len(set(v)) != len(v):
            raise ValueError("seeds must be a non-empty list without repeats")
        return v

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if v not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {v!r}")
        return v

    @model_validator(mode="after")
    def _baseline_label(self) -> "SweepSpec":
        if self.baseline is not None and "__" in slug(self.baseline.label):
            raise ValueError("baseline.label must not contain '__'")
        return self

    # ------------------------------------------------------------------ derived
    def axis_values(self, axis: str) -> list[tuple[str, dict[str, Any]]]:
        """(label, dotted overrides) of each value of ``axis``."""
        values = self.axes[axis]
        if isinstance(values, dict):
            return [(slug(label), dict(over or {})) for label, over in values.items()]
        return [(slug(v), {axis: v}) for v in values]

    def output_dir(self) -> Path:
        return Path(self.out_dir) if self.out_dir else Path("sweeps") / slug(self.name)

    def base_dict(self) -> dict[str, Any]:
        """The base run config as a dict (a file path is read relative to the sweep file)."""
        if isinstance(self.base, dict):
            return dict(self.base)
        path = Path(self.base)
        if not path.is_absolute() and self.source:
            path = Path(self.source).parent / path
        return read_config_file(path)


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file; errors name the field and the file."""
    data = read_config_file(path)
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path)).replace("invalid configuration",
                                                                           "invalid sweep file")) from None
    spec.source = str(Path(path).resolve())
    return spec
