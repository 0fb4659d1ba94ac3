"""Base class for privacy wrappers: differentially private release of data statistics."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Component, Params


class PrivacyWrapper(Component):
    """Releases statistics of training embeddings under a privacy guarantee.

    ``release_covariance(embeddings)`` returns the released mean ``[d]`` and covariance ``[d, d]``
    (symmetric positive definite) and charges the release to the wrapper's accountant.
    """

    kind: ClassVar[str] = "privacy_wrapper"

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        self._init_params(params, kwargs)

    def release_covariance(self, embeddings: Any) -> Any:
        raise NotImplementedError

    def spent(self) -> tuple[float, float]:
        """(epsilon, delta) spent so far."""
        raise NotImplementedError
