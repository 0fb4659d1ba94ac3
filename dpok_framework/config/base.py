"""Shared pydantic base for config sections: unknown fields are errors, numbers must be finite."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    # allow_inf_nan=False: `lr: .inf` or `beta: .nan` is a validation error naming the field, in every
    # section and in dict-valued fields (e.g. selection.weights), never a run that writes inf weights
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class ComponentSpec(Section):
    """A registered component and its parameters: ``{name: rbf, params: {sigma: 0.5}}`` or just ``rbf``.

    ``params`` are validated against the component's own pydantic model once plugins are loaded
    (``dpok config validate`` / engine start-up).
    """

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value
