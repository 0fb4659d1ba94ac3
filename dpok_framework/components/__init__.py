"""Base classes of the component kinds plugins register. The core names no concrete component."""

from .base import Component, Params
from .divergence import Divergence
from .embedder import Embedder
from .kernel import Kernel
from .loss import PreferenceLoss
from .privacy import PrivacyWrapper
from .selection import SelectionMetric

__all__ = ["Component", "Params", "Divergence", "Embedder", "Kernel", "PreferenceLoss",
           "PrivacyWrapper", "SelectionMetric"]
