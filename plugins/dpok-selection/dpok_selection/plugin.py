"""Entry-point module: registers the first-party selection metrics (kernel: PND, PNAV, TAT, NAG;
divergence: support overlap, drift magnitude, kurtosis, smoothness)."""

from dpok_framework import hookimpl

from .drift import DriftMagnitude
from .kurtosis import Kurtosis
from .nag import NAG
from .pnav import PNAV
from .pnd import PND
from .smoothness import Smoothness
from .support_overlap import SupportOverlap
from .tat import TAT


@hookimpl
def register_selection_metrics(register):
    for cls in (PND, PNAV, TAT, NAG, SupportOverlap, DriftMagnitude, Kurtosis, Smoothness):
        register(cls)
