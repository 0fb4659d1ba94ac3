"""Evaluation and analysis: held-out preference metrics, Davies-Bouldin, HT-SR weighted alpha, drift.

Engine-free pieces (pure tensor/numpy maths) are importable without a model; :mod:`.evaluate` runs a
model over held-out pairs (``dpok eval``) and :mod:`.analyze` the HT-SR comparison (``dpok analyze``).
"""

from .davies_bouldin import chosen_rejected_davies_bouldin, davies_bouldin, kernel_davies_bouldin
from .drift import DriftPoint, drift_summary, generalisation_drift
from .gather import PairGatherer
from .htsr import HTSRSummary, LayerAlpha, analyze_matrices, analyze_model, compare, esd, layer_alpha
from .powerlaw import PowerLawFit, fit_power_law, power_law_mle, sample_power_law
from .preference import PairLogps, per_pair_table, preference_metrics
from .rundir import read_metrics

__all__ = ["chosen_rejected_davies_bouldin", "davies_bouldin", "kernel_davies_bouldin", "DriftPoint",
           "drift_summary", "generalisation_drift", "PairGatherer", "HTSRSummary", "LayerAlpha",
           "analyze_matrices", "analyze_model", "compare", "esd", "layer_alpha", "PowerLawFit", "fit_power_law",
           "power_law_mle", "sample_power_law", "PairLogps", "per_pair_table", "preference_metrics",
           "read_metrics"]
