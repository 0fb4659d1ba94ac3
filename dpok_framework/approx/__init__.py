"""Scalable kernel approximations for Gram-matrix work (selection metrics, cluster scores).

Both work on any :class:`~dpok_framework.components.Kernel` through the base-class interface:

* :class:`RandomFourierFeatures` for shift-invariant kernels (``kernel.sample_frequencies``);
* :class:`Nystrom` for any kernel (``kernel.pairwise`` on m landmarks).

``Z_x = approx.transform(X)`` gives features with ``Z_x @ Z_y.T ~= kernel.pairwise(X, Y)``.  Fit the
kernel itself (``kernel.fit(embeddings)``) before building an approximation of it.
"""

from .nystrom import Nystrom
from .rff import RandomFourierFeatures

__all__ = ["Nystrom", "RandomFourierFeatures"]
