"""Exception types raised by the core. Every message says what to change."""

from __future__ import annotations


class DpokError(Exception):
    """Base class for every error dpok-framework raises on purpose."""


class ConfigError(DpokError, ValueError):
    """A run configuration is invalid; the message names the field (and file)."""


class PluginError(DpokError):
    """A plugin failed to load or registered something invalid."""


class DuplicateComponentError(PluginError):
    """Two plugins registered a component of the same kind under the same name."""


class AdmissionError(PluginError):
    """A component failed its runtime admission check (:mod:`dpok_framework.admission`): dpok refuses to use it.
    ``prop`` names the violated property."""

    def __init__(self, message: str, prop: str = "") -> None:
        super().__init__(message)
        self.prop = prop


class UnknownComponentError(DpokError, KeyError):
    """A component name is not registered; the message lists the available ones."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ComponentParamsError(DpokError, ValueError):
    """Component parameters failed validation against the component's pydantic model."""


class DataError(DpokError, ValueError):
    """Preference data is malformed; the message names the file, row and field."""
