"""The contract every pluggable component shares: a registered name and a pydantic params model."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Base for component parameter models: unknown fields are errors, values are validated, numbers are
    finite (a component that needs inf/nan as a value sets ``allow_inf_nan=True`` on its own model)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)


class Component:
    """Mixin for every component kind.

    Subclasses set ``name`` (the registry key, lower_snake_case) and ``Params`` (a :class:`Params`
    subclass).  ``summary`` is a one-line description shown by ``dpok plugins``.  Instances are built
    with ``Cls(params)`` or ``Cls(**fields)``.
    """

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params

    params: Params

    def _init_params(self, params: Params | None, kwargs: dict[str, Any]) -> None:
        if params is not None and kwargs:
            raise TypeError(f"{type(self).__name__}: pass either a Params instance or keyword fields, not both")
        if params is None:
            params = self.Params(**kwargs)
        elif not isinstance(params, self.Params):
            raise TypeError(
                f"{type(self).__name__} expects {self.Params.__name__}, got {type(params).__name__}"
            )
        self.params = params

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """JSON-able description: name, summary and the params JSON Schema."""
        return {"name": cls.name, "summary": cls.summary or (cls.__doc__ or "").strip().split("\n")[0],
                "params": cls.Params.model_json_schema()}
