"""Random Fourier Features and Nystrom: approximation error shrinks with features/landmarks; PSD; API."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dpok_framework.approx import Nystrom, RandomFourierFeatures
from dpok_kernels.linear import LinearKernel
from dpok_kernels.mahalanobis import MahalanobisKernel
from dpok_kernels.rbf import RBFKernel

SHIFT_INVARIANT = ["rbf", "spectral", "mahalanobis"]
ALL = ["linear", "polynomial", "rbf", "spectral", "mahalanobis", "hmk"]


def _rel_err(approx: torch.Tensor, exact: torch.Tensor) -> float:
    return float((approx - exact).norm() / exact.norm())


def _kernel(registry, name, x):
    spec = {"name": "mahalanobis", "params": {"bandwidth": "median"}} if name == "mahalanobis" else name
    return registry.build("kernel", spec).fit(x)


@pytest.mark.parametrize("name", SHIFT_INVARIANT)
def test_rff_error_decreases_with_features(registry, points, name):
    x = points(120, 5, 0, scale=2.0)
    kernel = _kernel(registry, name, x)
    exact = kernel.pairwise(x, x).detach()
    errs = []
    for num in (16, 128, 1024):
        errs.append(np.mean([_rel_err(RandomFourierFeatures(kernel, num, seed=s).fit(5).pairwise(x, x), exact)
                             for s in range(4)]))
    assert errs[0] > errs[1] > errs[2], errs
    assert errs[2] < 0.1  # Monte Carlo rate ~ 1/sqrt(D)
    assert errs[0] / errs[2] > 4.0  # 64x the features: about 8x smaller error


def test_rff_is_unbiased_for_rbf(points):
    """The mean over many seeds converges to the exact Gram (sincos and random-phase variants)."""
    x = points(10, 3, 0)
    kernel = RBFKernel(sigma=1.2)
    exact = kernel.pairwise(x, x)
    for variant in ("sincos", "phase"):
        mean = sum(RandomFourierFeatures(kernel, 64, seed=s, variant=variant).fit(x).pairwise(x, x)
                   for s in range(300)) / 300
        assert _rel_err(mean, exact) < 0.02, variant


def test_rff_frequencies_and_exact_diagonal(points):
    kernel = RBFKernel(sigma=0.5)
    rff = RandomFourierFeatures(kernel, 20_000, seed=0).fit(4)
    assert rff.omega.shape == (10_000, 4)
    assert float(rff.omega.var()) == pytest.approx(1 / 0.25, rel=0.03)  # omega ~ N(0, sigma^-2 I)
    x = points(6, 4)
    torch.testing.assert_close(torch.diagonal(rff.pairwise(x, x)), torch.ones(6, dtype=torch.float64))


def test_rff_deterministic_by_seed_and_keeps_dtype(points):
    kernel = RBFKernel(sigma=1.0)
    x = points(5, 3)
    a = RandomFourierFeatures(kernel, 32, seed=7).fit(3).transform(x)
    b = RandomFourierFeatures(kernel, 32, seed=7).fit(x).transform(x)
    c = RandomFourierFeatures(kernel, 32, seed=8).fit(3).transform(x)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    assert a.shape == (5, 32)
    assert RandomFourierFeatures(kernel, 32).fit(3).transform(x.float()).dtype == torch.float32


def test_rff_rejects_what_it_cannot_do(points):
    with pytest.raises(ValueError, match="not shift-invariant.*Nystrom"):
        RandomFourierFeatures(LinearKernel(), 16)
    with pytest.raises(ValueError, match="even num_features"):
        RandomFourierFeatures(RBFKernel(sigma=1.0), 15)
    RandomFourierFeatures(RBFKernel(sigma=1.0), 15, variant="phase").fit(2)  # odd is fine with phases
    with pytest.raises(RuntimeError, match="fit"):
        RandomFourierFeatures(RBFKernel(sigma=1.0), 16).transform(points(2, 2))
    rff = RandomFourierFeatures(RBFKernel(sigma=1.0), 16).fit(3)
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        rff.transform(points(2, 4))
    with pytest.raises(ValueError, match="fitted covariance size"):
        RandomFourierFeatures(MahalanobisKernel().fit(points(20, 3)), 16).fit(4)


@pytest.mark.parametrize("name", ALL)
def test_nystrom_error_never_increases_with_landmarks_and_is_exact_on_all_points(registry, points, name):
    x = points(80, 6, 1, scale=1.5).abs() if name == "linear" else points(80, 6, 1, scale=1.5)
    kernel = _kernel(registry, name, x)
    exact = kernel.pairwise(x, x).detach()
    errs = [_rel_err(Nystrom(kernel, m, seed=3).fit(x).pairwise(x, x).detach(), exact) for m in (2, 8, 32, 80)]
    assert all(a >= b - 1e-9 for a, b in zip(errs, errs[1:])), errs  # nested landmarks: monotone
    assert errs[0] > errs[-1]
    assert errs[-1] < 1e-6  # every point a landmark: exact (up to the rank cut-off)


def test_nystrom_matches_the_numpy_formula(points):
    kernel = RBFKernel(sigma=1.0)
    x = points(30, 3)
    ny = Nystrom(kernel, 10, seed=0).fit(x)
    z = ny.landmarks.numpy()
    kxz = kernel.pairwise(x, ny.landmarks).numpy()
    kzz = kernel.pairwise(ny.landmarks, ny.landmarks).numpy()
    np.testing.assert_allclose(ny.pairwise(x, x).numpy(), kxz @ np.linalg.pinv(kzz, rcond=1e-10, hermitian=True) @ kxz.T,
                               rtol=1e-6, atol=1e-8)
    # exact on the landmarks themselves
    np.testing.assert_allclose(ny.pairwise(ny.landmarks, ny.landmarks).numpy(), kzz, atol=1e-8)
    assert z.shape == (10, 3) and ny.num_features <= 10
    assert ny.transform(x.float()).dtype == torch.float32


def test_nystrom_handles_rank_deficiency_and_bad_input(points):
    x = points(20, 2)
    ny = Nystrom(LinearKernel(), 10).fit(x)  # a linear Gram has rank 2: the rest is cut off
    assert ny.num_features == 2
    torch.testing.assert_close(ny.pairwise(x, x), x @ x.T)
    with pytest.raises(ValueError, match="num_landmarks"):
        Nystrom(LinearKernel(), 0)
    with pytest.raises(ValueError, match="non-empty"):
        Nystrom(LinearKernel(), 3).fit(torch.zeros(0, 2))
    with pytest.raises(ValueError, match="numerically zero"):
        Nystrom(LinearKernel(), 3).fit(torch.zeros(4, 2))
    with pytest.raises(TypeError, match="Kernel instance"):
        Nystrom(lambda a, b: a @ b.T, 3)


def test_large_d_rff_for_mahalanobis_uses_the_covariance(points):
    """Whitened geometry: RFF of mahalanobis approximates exp(-d_S^2 / 2h^2), not the Euclidean RBF."""
    a = torch.diag(torch.tensor([5.0, 0.2, 1.0], dtype=torch.float64))
    x = points(60, 3, 2) @ a
    kernel = MahalanobisKernel(bandwidth="median").fit(x)
    approx = RandomFourierFeatures(kernel, 4096, seed=0).fit(3).pairwise(x, x)
    assert _rel_err(approx, kernel.pairwise(x, x)) < 0.05
    euclid = RBFKernel().fit(x).pairwise(x, x)
    assert _rel_err(approx, euclid) > 0.1
    assert math.isfinite(float(approx.sum()))


def test_nystrom_float32_inputs_stay_accurate(points):
    """Kernel values are taken in float64 inside Nystrom, so float32 inputs do not blow up K_ZZ^-1/2."""
    x = points(200, 5, 4).float()
    kernel = RBFKernel().fit(x)
    exact = kernel.pairwise(x.double(), x.double())
    approx = Nystrom(kernel, 200, seed=0).fit(x).pairwise(x, x)
    assert approx.dtype == torch.float32
    assert _rel_err(approx.double(), exact) < 1e-5
