"""What a contract check reports: a violation (an ``AssertionError``) and one row of results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ContractViolation(AssertionError):
    """A component broke a property it declares (or that every component of its kind must have).

    ``prop`` is the property's short name (e.g. ``"gram_psd"``), ``detail`` the numbers that show it.
    The contract runner prefixes the component, its distribution and the params it was built with.
    """

    def __init__(self, prop: str, detail: str) -> None:
        super().__init__(f"{prop}: {detail}")
        self.prop = prop
        self.detail = detail


def violated(ok: bool, prop: str, detail: str) -> None:
    """Raise :class:`ContractViolation` unless ``ok``."""
    if not ok:
        raise ContractViolation(prop, detail)


@dataclass
class CheckResult:
    """One property of one component: ``status`` is ``pass``, ``fail`` (violation), ``error`` (the check could
    not run: the component raised) or ``skip`` (not declared / not applicable)."""

    kind: str
    component: str
    distribution: str | None
    version: str | None
    prop: str
    status: str
    message: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "skip")

    def where(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"{self.kind} {self.component!r} ({dist})"

    def describe(self) -> str:
        """One line naming component, distribution, property, params and the numbers."""
        return f"{self.where()} violates {self.prop} with params {self.params}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "component": self.component, "distribution": self.distribution,
                "version": self.version, "property": self.prop, "status": self.status, "message": self.message,
                "params": self.params, "seconds": round(self.seconds, 4)}
