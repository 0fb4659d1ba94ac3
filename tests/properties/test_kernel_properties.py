"""Generic kernel property suite: every kernel in the registry (first- or third-party) is checked.

The checks are the public ones of :mod:`dpok_framework.testing.kernels` (what ``dpok plugins check`` and a
plugin's own ``contract_tests`` run); here hypothesis drives them with many more inputs.

Parametrised over ``get_registry().names("kernel")``; each kernel is built with default params and
``fit(X)`` on the sample first.  Checks: Gram symmetric and PSD (float64, smallest eigenvalue >= -tol
* ||K||), strictly positive where declared (``strictly_positive``), ``log_paired`` consistent with
``paired``/``pairwise`` and finite where the naive form underflows, dtype preservation, float64
gradcheck, RFF/Nystrom Gram matrices PSD, and the Nystrom error shrinking as landmarks grow.  The check functions are plain functions so the
meta-tests at the bottom can run them on a third-party kernel and on deliberately broken kernels.
"""

from __future__ import annotations

import math
import types
import warnings

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dpok_framework import get_registry, hookimpl, load_registry
from dpok_framework.components import Kernel, Params
from dpok_framework.testing.kernels import (check_approximations_psd, check_gram_psd, check_gram_psd_matrix,  # noqa: F401
                                            check_log_diag, check_log_far_apart, check_nystrom_error_decreases,
                                            check_positive_and_log, check_random_features)
from dpok_framework.testing.kernels import check_gradients as check_gradcheck
from dpok_framework.testing.samples import make_points
from dpok_framework.testing.strategies import point_sets

REGISTRY = get_registry()  # module-level: hypothesis tests must not use function-scoped fixtures
KERNELS = REGISTRY.names("kernel")


def build(registry, name: str, fit_on: torch.Tensor) -> Kernel:
    kernel = registry.build("kernel", name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # median heuristic on all-duplicate samples
        return kernel.fit(fit_on)


# -- hypothesis tests over every registered kernel -----------------------------------------------
@pytest.mark.parametrize("name", KERNELS)
@given(x=point_sets)
def test_gram_symmetric_psd(name, x):
    check_gram_psd(build(REGISTRY, name, x), x)


@pytest.mark.parametrize("name", KERNELS)
@given(x=point_sets, dtype=st.sampled_from([torch.float32, torch.float64]), shift=st.integers(0, 7))
def test_positive_and_log_consistent(name, x, dtype, shift):
    kernel = build(REGISTRY, name, x)
    y = torch.roll(x, shifts=shift, dims=0)  # pairs (x_i, x_{i-shift}), incl. identical pairs at shift 0
    check_positive_and_log(kernel, x.to(dtype), y.to(dtype))


@pytest.mark.parametrize("name", KERNELS)
@given(x=point_sets)
def test_log_paired_finite_where_naive_underflows(name, x):
    check_log_far_apart(build(REGISTRY, name, x), x)


@pytest.mark.parametrize("name", KERNELS)
@given(x=point_sets)
def test_nystrom_and_rff_grams_psd(name, x):
    check_approximations_psd(build(REGISTRY, name, x), x)


@pytest.mark.parametrize("name", KERNELS)
@given(x=point_sets)
def test_nystrom_error_decreases_with_landmarks(name, x):
    check_nystrom_error_decreases(build(REGISTRY, name, x), x)


@pytest.mark.parametrize("name", KERNELS)
@given(x=point_sets)
def test_log_diag_is_log_of_the_gram_diagonal(name, x):
    check_log_diag(build(REGISTRY, name, x), x)


@pytest.mark.parametrize("name", [n for n, c in REGISTRY.classes("kernel").items() if c.shift_invariant])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_features_converge_at_the_monte_carlo_rate(name, seed):
    x = make_points(12, 3, 1.0, 0.0, seed=seed)
    check_random_features(build(REGISTRY, name, x), x)


@pytest.mark.parametrize("name", KERNELS)
def test_gradcheck_float64(registry, name):
    x = make_points(20, 3, 1.0, 0.0, seed=5)
    check_gradcheck(build(REGISTRY, name, x))


@pytest.mark.parametrize("name", KERNELS)
def test_default_build_and_describe(registry, name):
    cls = registry.classes("kernel")[name]
    kernel = registry.build("kernel", name)
    assert isinstance(kernel, Kernel) and isinstance(kernel, torch.nn.Module)
    assert kernel.summary or (cls.__doc__ or "").strip(), f"{name}: set a one-line `summary` or a docstring"
    schema = cls.describe()["params"]
    assert schema["type"] == "object"
    reg = kernel.regularizer()
    assert reg is None or (isinstance(reg, torch.Tensor) and reg.dim() == 0)
    assert isinstance(kernel.mixture_weights(), dict)


# -- meta-tests: the suite picks up third-party kernels, and it can fail ---------------------------
class _LaplaceParams(Params):
    length: float = 1.0


class ThirdPartyLaplacian(Kernel):
    """K(x, y) = exp(-||x - y|| / length): a third-party kernel the suite must check unaided."""

    name = "test_third_party_laplacian"
    summary = "Laplacian kernel (meta-test)"
    Params = _LaplaceParams

    def pairwise(self, x, y):
        d2 = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)  # [n, m]
        return torch.exp(-torch.sqrt(d2 + 1e-30) / self.params.length)

    def log_paired(self, x, y):
        return -torch.sqrt(((x - y) ** 2).sum(-1) + 1e-30) / self.params.length


class _AntiRBF(Kernel):
    """K = exp(+||x - y||^2 / 2): positive but NOT PSD (grows with distance)."""

    name = "test_broken_not_psd"
    Params = _LaplaceParams

    def pairwise(self, x, y):
        return torch.exp(0.5 * ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1))

    def log_paired(self, x, y):
        return 0.5 * ((x - y) ** 2).sum(-1)


class _ClaimsPositiveLinear(Kernel):
    """x . y but claiming strictly_positive (the default): PSD, yet log K is undefined for x . y <= 0."""

    name = "test_broken_positivity_claim"
    Params = _LaplaceParams

    def pairwise(self, x, y):
        return x @ y.T

    def paired(self, x, y):
        return (x * y).sum(-1)

    def log_paired(self, x, y):
        return self.paired(x, y).log()


def _third_party_registry():
    plugin = types.SimpleNamespace(register_kernels=hookimpl(lambda register: register(ThirdPartyLaplacian)))
    reg = load_registry()  # fresh registry: the process-wide one stays untouched
    reg.register_plugin(plugin, name="third_party_kernels")
    return reg


def test_suite_covers_every_registered_kernel(registry):
    assert KERNELS == registry.names("kernel")
    first_party = {"linear", "polynomial", "rbf", "spectral", "mahalanobis", "hmk"}
    assert first_party <= set(KERNELS)
    reg = _third_party_registry()
    assert "test_third_party_laplacian" in reg.names("kernel")
    assert set(reg.names("kernel")) == set(KERNELS) | {"test_third_party_laplacian"}


def test_third_party_kernel_passes_the_generic_checks():
    reg = _third_party_registry()
    for seed in range(5):
        x = make_points(12, 4, 1.0, 0.3, seed)
        kernel = build(reg, "test_third_party_laplacian", x)
        check_gram_psd(kernel, x)
        check_positive_and_log(kernel, x, torch.roll(x, 1, 0))
        check_log_far_apart(kernel, x)
        check_approximations_psd(kernel, x)
        check_nystrom_error_decreases(kernel, x)


def test_generic_checks_catch_a_non_psd_kernel():
    x = make_points(8, 2, 1.0, 0.0, seed=0)
    with pytest.raises(AssertionError, match="not PSD"):
        check_gram_psd(_AntiRBF(), x)


def test_generic_checks_catch_a_false_positivity_claim():
    x = make_points(8, 3, 1.0, 0.0, seed=0)
    with pytest.raises(AssertionError):
        check_positive_and_log(_ClaimsPositiveLinear(), x, -x)
