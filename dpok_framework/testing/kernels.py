"""The kernel contract: symmetric PSD Gram, declared positivity, agreement of ``pairwise`` / ``paired`` /
``log_paired`` / ``log_diag``, random features consistent with the exact kernel at the Monte-Carlo rate,
and finite float64 gradients.

Each check is a plain function ``check_*(make, seed, samples)``: ``make()`` returns a fresh kernel (built
with the params under test; each check fits it on its own points), ``seed`` makes the inputs reproducible,
``samples`` is how many input sets to try.  A failure raises :class:`ContractViolation` with the numbers.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable

import torch

from .results import ContractViolation, violated
from .samples import make_points

PSD_RTOL = 1e-10  # smallest eigenvalue >= -PSD_RTOL * ||K||_2 (float64)
SCALES = (1e-3, 0.1, 1.0, 30.0, 1e3)
RFF_FEATURES = (256, 4096)  # sin/cos features: D/2 frequencies each
RFF_CONST = 6.0  # max_ij |z(x_i).z(x_j) - K_ij| <= RFF_CONST * k0 / sqrt(D): the Monte-Carlo rate

Make = Callable[[], torch.nn.Module]


def fitted(make: Make, x: torch.Tensor):
    kernel = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # median heuristic on all-duplicate samples
        return kernel.fit(x)


def point_set(seed: int, i: int, n_max: int = 16, d_max: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1009 + i)
    n = int(torch.randint(2, n_max + 1, (1,), generator=g))
    d = int(torch.randint(1, d_max + 1, (1,), generator=g))
    scale = SCALES[int(torch.randint(0, len(SCALES), (1,), generator=g))] if i else 1.0
    dup = (0.0, 0.0, 0.3, 0.9)[int(torch.randint(0, 4, (1,), generator=g))] if i else 0.0
    return make_points(n, d, scale, dup, seed=seed * 7919 + i)


def strictly_positive(kernel) -> bool:
    return bool(getattr(kernel, "strictly_positive", True))


# -- single-input checks (also used by the first-party hypothesis suite) ------------------------------
def check_gram_psd(kernel, x: torch.Tensor, label: str | None = None) -> None:
    """``pairwise(x, x)`` is ``[n, n]``, finite, symmetric and PSD (float64, relative tolerance)."""
    label = label or kernel.name
    with torch.no_grad():
        k = kernel.pairwise(x, x).detach().to(torch.float64)  # [n, n]
    n = x.shape[0]
    violated(tuple(k.shape) == (n, n), "gram_shape", f"{label}: pairwise shape {tuple(k.shape)} != {(n, n)}")
    violated(bool(torch.isfinite(k).all()), "gram_finite", f"{label}: non-finite Gram entries")
    norm = float(torch.linalg.matrix_norm(k, ord=2)) if n else 0.0
    asym = float((k - k.T).abs().max())
    violated(asym <= 1e-12 * max(norm, 1e-300), "gram_symmetric",
             f"{label}: max |K - K^T| = {asym:.3g} (||K|| = {norm:.3g})")
    lam_min = float(torch.linalg.eigvalsh(0.5 * (k + k.T))[0])
    violated(lam_min >= -PSD_RTOL * norm, "gram_psd",
             f"{label}: Gram not PSD, lambda_min = {lam_min:.4g} < -{PSD_RTOL:g} * ||K|| ({norm:.4g}) on n={n} "
             f"points of dim {x.shape[1]}")


def check_positive_and_log(kernel, x: torch.Tensor, y: torch.Tensor) -> None:
    """Positivity where declared; ``paired`` == diag(``pairwise``), ``log_paired`` == log K where representable."""
    name = kernel.name
    with torch.no_grad():
        p = kernel.paired(x, y)  # [n]
        g = torch.diagonal(kernel.pairwise(x, y))  # [n]
        violated(p.dtype == x.dtype, "dtype", f"{name}: paired returned {p.dtype} for {x.dtype} inputs")
        tiny = torch.finfo(x.dtype).tiny
        ok = (g.abs() > 1e3 * tiny) & torch.isfinite(g)
        scale = g.abs().max().clamp_min(1.0)
        tol = 1e-10 if x.dtype == torch.float64 else 1e-4
        err = float((p[ok] - g[ok]).abs().max()) if bool(ok.any()) else 0.0
        violated(torch.allclose(p[ok], g[ok], rtol=tol, atol=tol * float(scale)), "paired_vs_pairwise",
                 f"{name}: max |paired - diag(pairwise)| = {err:.4g}")
        if strictly_positive(kernel):
            lp = kernel.log_paired(x, y)
            violated(lp.dtype == x.dtype, "dtype", f"{name}: log_paired returned {lp.dtype} for {x.dtype} inputs")
            violated(bool(torch.isfinite(lp).all()), "positivity",
                     f"{name}: strictly_positive but log_paired is not finite: {lp.tolist()}")
            violated(bool((g >= 0).all()), "positivity",
                     f"{name}: strictly_positive but min K = {float(g.min()):.4g} < 0")
            violated(bool((p[lp > math.log(1e6 * tiny)] > 0).all()), "positivity",
                     f"{name}: K <= 0 where log K is finite")
            ok = ok & (g > 1e3 * tiny)
            err = float((lp[ok] - g[ok].log()).abs().max()) if bool(ok.any()) else 0.0
            violated(torch.allclose(lp[ok], g[ok].log(), rtol=tol, atol=tol), "log_paired_vs_pairwise",
                     f"{name}: max |log_paired - log diag(pairwise)| = {err:.4g}")
        else:
            pos = (p > 1e3 * tiny) & torch.isfinite(p)
            if bool(pos.any()):
                try:
                    lp = kernel.log_paired(x[pos], y[pos])
                except ValueError:  # a kernel that may be <= 0 can refuse log K (with a message) instead
                    return
                err = float((lp - p[pos].log()).abs().max())
                violated(torch.allclose(lp, p[pos].log(), rtol=tol, atol=tol), "log_paired_vs_pairwise",
                         f"{name}: max |log_paired - log paired| = {err:.4g}")


def check_log_diag(kernel, x: torch.Tensor) -> None:
    """``log_diag(x)`` == log K(x_i, x_i) (from ``pairwise``), where K(x_i, x_i) is representable and > 0."""
    with torch.no_grad():
        ld = kernel.log_diag(x)  # [n]
        diag = torch.diagonal(kernel.pairwise(x, x)).to(torch.float64)  # [n]
    violated(tuple(ld.shape) == (x.shape[0],), "log_diag", f"{kernel.name}: log_diag shape {tuple(ld.shape)}")
    ok = diag > 1e3 * torch.finfo(x.dtype).tiny
    if not bool(ok.any()):
        return
    want = diag[ok].log()
    err = float((ld.to(torch.float64)[ok] - want).abs().max())
    tol = 1e-8 if x.dtype == torch.float64 else 1e-4
    violated(err <= tol * (1.0 + float(want.abs().max())), "log_diag",
             f"{kernel.name}: max |log_diag(x) - log K(x, x)| = {err:.4g} (e.g. log_diag {float(ld[ok][0]):.6g} vs "
             f"log K {float(want[0]):.6g})")


def check_log_far_apart(kernel, x: torch.Tensor) -> None:
    """Pairs so far apart that exp(log K) underflows: ``log_paired`` and ``log_ratio`` stay finite."""
    if not strictly_positive(kernel):
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
        violated(bool(torch.isfinite(lp[ok]).all()), "log_far_apart",
                 f"{kernel.name}: log_paired not finite far apart ({dtype}): {lp.tolist()}")
        violated(bool(torch.isfinite(lr[ok]).all()), "log_far_apart",
                 f"{kernel.name}: log_ratio not finite far apart ({dtype})")


def rff_errors(kernel, x: torch.Tensor, features=RFF_FEATURES, seeds: int = 2) -> tuple[list[float], float]:
    """Max entrywise error of the RFF Gram vs the exact Gram per feature count (mean over ``seeds``), and k0."""
    from ..approx import RandomFourierFeatures

    with torch.no_grad():
        exact = kernel.pairwise(x, x).detach().to(torch.float64)  # [n, n]
    errs, k0 = [], 1.0
    for num in features:
        e = 0.0
        for s in range(seeds):
            rff = RandomFourierFeatures(kernel, num_features=num, seed=s).fit(x.shape[1])
            k0 = rff.k0
            approx = rff.pairwise(x, x).detach().to(torch.float64)  # [n, n]
            e += float((approx - exact).abs().max()) / seeds
        errs.append(e)
    return errs, k0


def check_random_features(kernel, x: torch.Tensor, features=RFF_FEATURES) -> None:
    """Shift-invariant kernels: Z Z^T from ``sample_frequencies`` converges to K at the Monte-Carlo rate,
    max_ij |(Z Z^T)_ij - K_ij| <= RFF_CONST * k0 / sqrt(D) for every feature count D."""
    errs, k0 = rff_errors(kernel, x, features)
    for num, err in zip(features, errs):
        bound = RFF_CONST * abs(k0) / math.sqrt(num)
        violated(err <= bound, "random_features",
                 f"{kernel.name}: max |Z Z^T - K| = {err:.4g} at {num} features (errors {', '.join(f'{e:.3g}' for e in errs)} "
                 f"at {list(features)} features), above the Monte-Carlo bound {RFF_CONST:g} k0/sqrt(D) = {bound:.3g}; "
                 f"sample_frequencies does not draw from the kernel's spectral density")


def check_gradients(kernel, d: int = 3) -> None:
    """float64 gradcheck of ``log_paired`` and ``pairwise``, and finite gradients."""
    kernel = kernel.double()
    g = torch.Generator().manual_seed(3)
    # positive entries keep x . y > 0 so kernels that are not strictly positive (linear) have a finite log
    x = (0.5 + torch.rand(3, d, generator=g, dtype=torch.float64)).requires_grad_()
    y = (0.5 + torch.rand(3, d, generator=g, dtype=torch.float64)).requires_grad_()
    kernel.log_paired(x, y).sum().backward()
    violated(bool(torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()), "gradients",
             f"{kernel.name}: non-finite gradient of log_paired: {x.grad.tolist()}")
    for fn_name in ("log_paired", "pairwise"):
        try:
            torch.autograd.gradcheck(getattr(kernel, fn_name), (x, y), eps=1e-6, atol=1e-6)
        except Exception as exc:  # gradcheck raises GradcheckError with the Jacobians
            raise ContractViolation("gradients", f"{kernel.name}: float64 gradcheck of {fn_name} failed: "
                                                 f"{str(exc).splitlines()[0]}") from None


def check_approximations_psd(kernel, x: torch.Tensor) -> None:
    """Nystrom (and RFF for shift-invariant kernels) Gram matrices are symmetric PSD."""
    from ..approx import Nystrom, RandomFourierFeatures

    ny = Nystrom(kernel, num_landmarks=max(1, x.shape[0] // 2), seed=1).fit(x)
    check_gram_psd_matrix(kernel.name + "/nystrom", ny.pairwise(x, x))
    if getattr(kernel, "shift_invariant", False):
        rff = RandomFourierFeatures(kernel, num_features=64, seed=1).fit(x.shape[1])
        check_gram_psd_matrix(kernel.name + "/rff", rff.pairwise(x, x))


def check_gram_psd_matrix(label: str, k: torch.Tensor) -> None:
    k = k.detach().to(torch.float64)
    norm = float(torch.linalg.matrix_norm(k, ord=2))
    violated(float((k - k.T).abs().max()) <= 1e-10 * max(norm, 1e-300), "approx_psd", f"{label}: not symmetric")
    lam = float(torch.linalg.eigvalsh(0.5 * (k + k.T))[0])
    violated(lam >= -1e-9 * norm, "approx_psd", f"{label}: not PSD (lambda_min {lam:.3g}, ||K|| {norm:.3g})")


def check_nystrom_error_decreases(kernel, x: torch.Tensor) -> None:
    """Nested landmark sets: K - K_m is PSD and shrinks (trace) as m grows; exact at m = n."""
    from ..approx import Nystrom

    k = kernel.pairwise(x, x).detach().to(torch.float64)  # [n, n]
    total = float(torch.diagonal(k).sum())
    errs = []
    for m in sorted({1, max(1, x.shape[0] // 2), x.shape[0]}):
        resid = k - Nystrom(kernel, m, seed=2).fit(x).pairwise(x, x).detach().to(torch.float64)
        errs.append(float(torch.diagonal(resid).sum()))
        violated(errs[-1] >= -1e-8 * max(total, 1e-300), "nystrom",
                 f"{kernel.name}/nystrom: K_m exceeds K (trace {errs[-1]:.3g})")
    violated(all(a >= b - 1e-8 * total for a, b in zip(errs, errs[1:])), "nystrom",
             f"{kernel.name}/nystrom: error grew {errs}")
    violated(errs[-1] <= 1e-6 * total, "nystrom", f"{kernel.name}/nystrom: not exact with every point a landmark {errs}")


# -- the contract: (property, applies(kernel), run(make, seed, samples)) ----------------------------------
def _over_points(check) -> Callable[[Make, int, int], None]:
    def run(make: Make, seed: int, samples: int) -> None:
        for i in range(samples):
            x = point_set(seed, i)
            check(fitted(make, x), x)
    return run


def _positive(make: Make, seed: int, samples: int) -> None:
    for i in range(samples):
        x = point_set(seed, i)
        kernel = fitted(make, x)
        for dtype in (torch.float64, torch.float32):
            check_positive_and_log(kernel, x.to(dtype), torch.roll(x, shifts=i, dims=0).to(dtype))


def _random_features(make: Make, seed: int, samples: int) -> None:
    for i in range(max(1, samples // 2)):
        g = torch.Generator().manual_seed(seed + i)
        x = make_points(12, int(torch.randint(1, 6, (1,), generator=g)), 1.0, 0.0, seed=seed * 31 + i)
        check_random_features(fitted(make, x), x)


def _gradients(make: Make, seed: int, samples: int) -> None:
    x = make_points(20, 3, 1.0, 0.0, seed=5)
    check_gradients(fitted(make, x))


CHECKS = [
    ("gram_psd", lambda k: True, _over_points(check_gram_psd)),
    ("positivity_and_log", lambda k: True, _positive),
    ("log_diag", lambda k: True, _over_points(check_log_diag)),
    ("log_far_apart", strictly_positive, _over_points(check_log_far_apart)),
    ("random_features", lambda k: bool(getattr(k, "shift_invariant", False)), _random_features),
    ("gradients", lambda k: True, _gradients),
    ("approximations_psd", lambda k: True, _over_points(check_approximations_psd)),
]
