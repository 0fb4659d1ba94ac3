"""Generic kernel property suite: every kernel in the registry (first- or third-party) is checked.

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
from dpok_framework.approx import Nystrom, RandomFourierFeatures
from dpok_framework.components import Kernel, Params

PSD_RTOL = 1e-10  # smallest eigenvalue >= -PSD_RTOL * ||K||_2 (float64)


def kernel_names(registry) -> list[str]:
    """What the suite checks: every registered kernel."""
    return registry.names("kernel")


REGISTRY = get_registry()  # module-level: hypothesis tests must not use function-scoped fixtures
KERNELS = kernel_names(REGISTRY)


# -- sample generation ----------------------------------------------------------------------
def make_points(n: int, d: int, scale: float, dup_frac: float, seed: int, dtype=torch.float64) -> torch.Tensor:
    """``[n, d]`` Gaussian points times ``scale``, with a fraction replaced by near-duplicates (1e-9 apart)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * scale
    n_dup = int(dup_frac * n)
    if n_dup and n > 1:
        src = torch.randint(0, n - n_dup, (n_dup,), generator=g)
        x[n - n_dup:] = x[src] + 1e-9 * scale * torch.randn(n_dup, d, generator=g, dtype=torch.float64)
    return x.to(dtype)


point_sets = st.builds(
    make_points,
    n=st.integers(2, 24), d=st.integers(1, 16),
    scale=st.sampled_from([1e-3, 0.1, 1.0, 30.0, 1e3]),
    dup_frac=st.sampled_from([0.0, 0.0, 0.3, 0.9]),
    seed=st.integers(0, 2**31 - 1))


def build(registry, name: str, fit_on: torch.Tensor) -> Kernel:
    kernel = registry.build("kernel", name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # median heuristic on all-duplicate samples
        return kernel.fit(fit_on)


# -- the checks (plain functions; assertions) ----------------------------------------------------
def check_gram_psd(kernel: Kernel, x: torch.Tensor) -> None:
    k = kernel.pairwise(x, x).detach().to(torch.float64)  # [n, n]
    n = x.shape[0]
    assert k.shape == (n, n), f"{kernel.name}: pairwise shape {tuple(k.shape)} != {(n, n)}"
    assert bool(torch.isfinite(k).all()), f"{kernel.name}: non-finite Gram entries"
    norm = float(torch.linalg.matrix_norm(k, ord=2)) if n else 0.0
    asym = float((k - k.T).abs().max())
    assert asym <= 1e-12 * max(norm, 1e-300), f"{kernel.name}: Gram not symmetric (max |K - K^T| = {asym:.3g})"
    lam_min = float(torch.linalg.eigvalsh(0.5 * (k + k.T))[0])
    assert lam_min >= -PSD_RTOL * norm, f"{kernel.name}: Gram not PSD (lambda_min {lam_min:.3g}, ||K|| {norm:.3g})"


def check_positive_and_log(kernel: Kernel, x: torch.Tensor, y: torch.Tensor) -> None:
    """Positivity where declared; log_paired == log(paired) == log(diag pairwise) where finite."""
    with torch.no_grad():
        p = kernel.paired(x, y)  # [n]
        g = torch.diagonal(kernel.pairwise(x, y))  # [n]
        assert p.dtype == x.dtype, f"{kernel.name}: paired returned {p.dtype} for {x.dtype} inputs"
        tiny = torch.finfo(x.dtype).tiny
        ok = g.abs() > 1e3 * tiny
        scale = g.abs().max().clamp_min(1.0)
        tol = 1e-10 if x.dtype == torch.float64 else 1e-4
        assert torch.allclose(p[ok], g[ok], rtol=tol, atol=tol * scale), f"{kernel.name}: paired != diag(pairwise)"
        if getattr(kernel, "strictly_positive", True):
            lp = kernel.log_paired(x, y)
            assert lp.dtype == x.dtype
            assert bool(torch.isfinite(lp).all()), f"{kernel.name}: log_paired not finite: {lp}"
            assert bool((g >= 0).all()), f"{kernel.name}: negative Gram entries but strictly_positive=True"
            assert bool((p[lp > math.log(1e6 * tiny)] > 0).all()), f"{kernel.name}: K <= 0 where log K is finite"
            ok = ok & (g > 1e3 * tiny)
            assert torch.allclose(lp[ok], g[ok].log(), rtol=tol, atol=tol), f"{kernel.name}: log_paired != log K"
        else:
            pos = p > 0
            if bool(pos.any()):
                lp = kernel.log_paired(x[pos], y[pos])
                assert torch.allclose(lp, p[pos].log(), rtol=tol, atol=tol), f"{kernel.name}: log_paired != log K"


def check_log_far_apart(kernel: Kernel, x: torch.Tensor) -> None:
    """Pairs so far apart that exp(log K) underflows for decaying kernels: log_paired stays finite."""
    if not getattr(kernel, "strictly_positive", True):
        return
    spread = float((x - x.mean(0)).norm(dim=-1).max()) + 1.0
    far = x + 1e4 * spread * torch.ones_like(x) / math.sqrt(x.shape[1])
    ref = None
    for dtype in (torch.float64, torch.float32):
        a, b = x.to(dtype), far.to(dtype)
        with torch.no_grad():
            lp, lr = kernel.log_paired(a, b), kernel.log_ratio(a, a, b)
        if ref is None:
            ref = lp
            ok = torch.ones_like(lp, dtype=torch.bool)
        else:  # float32 must be finite wherever the float64 value is representable in float32
            ok = ref.abs() < 0.01 * torch.finfo(dtype).max
        assert bool(torch.isfinite(lp[ok]).all()), f"{kernel.name}: log_paired not finite far apart ({dtype}): {lp}"
        assert bool(torch.isfinite(lr[ok]).all()), f"{kernel.name}: log_ratio not finite far apart ({dtype})"


def check_approximations_psd(kernel: Kernel, x: torch.Tensor) -> None:
    ny = Nystrom(kernel, num_landmarks=max(1, x.shape[0] // 2), seed=1).fit(x)
    check_gram_psd_matrix(kernel.name + "/nystrom", ny.pairwise(x, x))
    if kernel.shift_invariant:
        rff = RandomFourierFeatures(kernel, num_features=64, seed=1).fit(x.shape[1])
        check_gram_psd_matrix(kernel.name + "/rff", rff.pairwise(x, x))


def check_nystrom_error_decreases(kernel: Kernel, x: torch.Tensor) -> None:
    """Nested landmark sets: the residual K - K_m is PSD and shrinks (trace) as m grows; exact at m = n."""
    k = kernel.pairwise(x, x).detach().to(torch.float64)  # [n, n]
    total = float(torch.diagonal(k).sum())
    errs = []
    for m in sorted({1, max(1, x.shape[0] // 2), x.shape[0]}):
        resid = k - Nystrom(kernel, m, seed=2).fit(x).pairwise(x, x).detach().to(torch.float64)
        errs.append(float(torch.diagonal(resid).sum()))
        assert errs[-1] >= -1e-8 * max(total, 1e-300), f"{kernel.name}/nystrom: K_m exceeds K (trace {errs[-1]:.3g})"
    assert all(a >= b - 1e-8 * total for a, b in zip(errs, errs[1:])), f"{kernel.name}/nystrom: error grew {errs}"
    assert errs[-1] <= 1e-6 * total, f"{kernel.name}/nystrom: not exact with every point a landmark {errs}"


def check_gram_psd_matrix(label: str, k: torch.Tensor) -> None:
    k = k.detach().to(torch.float64)
    norm = float(torch.linalg.matrix_norm(k, ord=2))
    assert float((k - k.T).abs().max()) <= 1e-10 * max(norm, 1e-300), f"{label}: not symmetric"
    assert float(torch.linalg.eigvalsh(0.5 * (k + k.T))[0]) >= -1e-9 * norm, f"{label}: not PSD"


def check_gradcheck(kernel: Kernel, d: int = 3) -> None:
    kernel = kernel.double()
    g = torch.Generator().manual_seed(3)
    # positive entries keep x . y > 0 so kernels that are not strictly positive (linear) have a finite log
    x = (0.5 + torch.rand(3, d, generator=g, dtype=torch.float64)).requires_grad_()
    y = (0.5 + torch.rand(3, d, generator=g, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(kernel.log_paired, (x, y), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradcheck(kernel.pairwise, (x, y), eps=1e-6, atol=1e-6)


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
    assert "test_third_party_laplacian" in kernel_names(reg)
    assert set(kernel_names(reg)) == set(KERNELS) | {"test_third_party_laplacian"}


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
