"""The component kinds: registry key -> (hook name, base class). Adding a kind is one line here plus a hookspec."""

from __future__ import annotations

from dataclasses import dataclass

from .components import Divergence, Embedder, Kernel, PreferenceLoss, PrivacyWrapper, SelectionMetric


@dataclass(frozen=True)
class Kind:
    key: str
    hook: str
    base: type


KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind("kernel", "register_kernels", Kernel),
        Kind("divergence", "register_divergences", Divergence),
        Kind("loss", "register_losses", PreferenceLoss),
        Kind("embedder", "register_embedders", Embedder),
        Kind("selection_metric", "register_selection_metrics", SelectionMetric),
        Kind("privacy_wrapper", "register_privacy_wrappers", PrivacyWrapper),
    )
}
