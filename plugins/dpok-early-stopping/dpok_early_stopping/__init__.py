"""Early stopping on a held-out metric, through dpok's lifecycle hooks (see docs/engine.md)."""

from .tracker import EarlyStopping, EarlyStoppingSettings

__all__ = ["EarlyStopping", "EarlyStoppingSettings"]
