"""Generic property suite: every registered divergence is checked for the axioms it declares.

The checks are the public ones of :mod:`dpok_framework.testing.divergences` (``C`` below: what
``dpok plugins check`` and a plugin's own ``contract_tests`` run), driven here by hypothesis.

Parametrised over ``get_registry().names("divergence")`` at collection time, so a divergence from
any installed plugin (third-party included) is built with default params and checked without new
tests: D(p, p) = 0, D >= 0, finite values and gradients where the supports agree, ``symmetric``,
``upper_bound`` (also on disjoint supports), ``is_f_divergence`` (data processing, joint convexity,
link = link_scale * f'(exp r) + const against autograd), ``has_link`` (finite, non-decreasing),
batching, dtype, float64 gradcheck. An f-divergence registered in-process into a local registry
(the path a third-party ``FDivergence`` subclass takes) runs through the same suite.
"""

from __future__ import annotations

import functools
import json
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from dpok_framework.testing import divergences as C
from dpok_framework.testing.strategies import log_dists, merge_bins, mix, partitions
from dpok_divergences import FDivergence, NamedFDivergence
from dpok_framework import get_registry, hookimpl, load_registry
from dpok_framework.errors import DpokError

TOL = 1e-9  # float64 inputs; every first-party default is exact (no iterative solver)

class LeCam(FDivergence):
    """Test-only third-party f-divergence: Le Cam / triangular discrimination, f(u) = (u-1)^2 / (2(u+1))."""

    name = "le_cam_test"
    summary = "Le Cam divergence (test plugin)"
    symmetric = True

    def f(self, u):
        return (u - 1.0) ** 2 / (2.0 * (u + 1.0))

    def f_prime(self, u):
        return 0.5 * (1.0 - 4.0 / (u + 1.0) ** 2)


class _InProcessPlugin:
    @hookimpl
    def register_divergences(self, register):
        register(LeCam)


@functools.cache
def _local_registry():
    reg = load_registry()
    reg.register_plugin(_InProcessPlugin(), name="test_le_cam_plugin")
    return reg


REGISTERED = get_registry().names("divergence")
CASES = [("registry", n) for n in REGISTERED] + [("in_process", LeCam.name)]
IDS = [n if where == "registry" else f"in_process:{n}" for where, n in CASES]


@functools.cache
def build(where: str, name: str):
    reg = get_registry() if where == "registry" else _local_registry()
    return reg.build("divergence", name)


cases = pytest.mark.parametrize("where,name", CASES, ids=IDS)


def _logsm(x: torch.Tensor) -> torch.Tensor:
    return x - torch.logsumexp(x, dim=-1, keepdim=True)


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-7, atol: float = TOL) -> bool:
    both_inf = torch.isinf(a) & torch.isinf(b) & (a.sign() == b.sign())
    return bool((both_inf | torch.isclose(a, b, rtol=rtol, atol=atol)).all())


# -- meta -----------------------------------------------------------------------------------
def test_every_registered_divergence_is_in_the_suite():
    assert set(get_registry().names("divergence")) <= set(REGISTERED)
    assert {"kl", "forward_kl", "js", "hellinger", "renyi", "bhattacharyya", "wasserstein",
            "f_divergence"} <= set(REGISTERED)


def test_in_process_plugin_is_registered_locally_only():
    assert LeCam.name in _local_registry().names("divergence")
    assert LeCam.name not in get_registry().names("divergence")


@cases
def test_component_contract(where, name):
    d = build(where, name)
    cls = type(d)
    assert cls.name == name and cls.kind == "divergence"
    cls()  # every field of Params has a default
    json.dumps(cls.describe())
    assert cls.describe()["summary"]
    assert isinstance(d.symmetric, bool) and isinstance(d.has_link, bool)
    assert d.upper_bound is None or (d.upper_bound > 0 and math.isfinite(d.upper_bound))
    assert d.link_scale > 0


# -- axioms every divergence has -----------------------------------------------------------
@cases
@given(dists=log_dists(count=2, zeros="common"))
def test_axioms_on_a_common_support(where, name, dists):
    """D(p, p) = 0; D(p, q) >= 0, finite, with finite gradients; symmetric/bounded as declared; batched."""
    d = build(where, name)
    lp, lq = dists
    C.check_identity(d, lp)
    C.check_common_support(d, lp, lq)
    assert d(torch.stack([lp, lq]), torch.stack([lq, lp])).shape == (2, lp.shape[0])


@cases
@given(dists=log_dists(count=2, zeros="any"))
def test_axioms_with_arbitrary_zeros(where, name, dists):
    """No NaN in values or gradients (disjoint supports included); bounded ones stay finite; symmetry."""
    C.check_any_zeros(build(where, name), *dists)


@cases
def test_f_divergence_bound_is_attained_on_disjoint_supports(where, name):
    d = build(where, name)
    if d.is_f_divergence and d.upper_bound is not None:
        C.check_bound_attained(d)


# -- f-divergences: data processing, joint convexity, the link ------------------------------
@cases
@given(dists=log_dists(count=4, zeros="common"), data=st.data())
def test_f_divergence_axioms(where, name, dists, data):
    """Data processing (merging bins never increases D) and joint convexity, for declared f-divergences."""
    d = build(where, name)
    if not d.is_f_divergence:
        return
    ids, groups = data.draw(partitions(dists[0].shape[-1]))
    C.check_f_axioms(d, *dists, ids, groups, data.draw(st.floats(0.0, 1.0)))


@cases
def test_link_declaration(where, name):
    d = build(where, name)
    if not d.has_link:
        with pytest.raises((NotImplementedError, DpokError)):
            d.link(torch.linspace(-20.0, 20.0, 401, dtype=torch.float64))
        return
    C.check_link_shape(d)
    assert d.link(torch.zeros(20, 20, 1, dtype=torch.float64)).shape == (20, 20, 1)


@cases
@given(dists=log_dists(count=2, zeros="none", min_v=3, max_batch=2))
def test_link_matches_the_gradient_of_the_divergence(where, name, dists):
    """dD/dp_v = f'(p_v/q_v) (up to a constant from normalisation), so link(r_v) - scale * g_v is constant."""
    d = build(where, name)
    if d.has_link and d.is_f_divergence:
        C.check_link_gradient(d, *dists)


@cases
def test_f_prime_is_the_derivative_of_f_and_link_is_f_prime_of_exp(where, name):
    d = build(where, name)
    if not isinstance(d, FDivergence):
        return
    u = torch.logspace(-3, 3, 61, dtype=torch.float64).requires_grad_(True)
    (fu,) = torch.autograd.grad(d.f(u).sum(), u)
    assert torch.allclose(d.f_prime(u.detach()), fu, rtol=1e-6, atol=1e-9)
    assert torch.allclose(d.f(torch.ones((), dtype=torch.float64)), torch.zeros((), dtype=torch.float64), atol=1e-12)
    if d.has_link:
        r = torch.linspace(-6, 6, 49, dtype=torch.float64)
        assert torch.allclose(d.link(r) / d.link_scale, d.f_prime(r.exp()), rtol=1e-9, atol=1e-9)


# -- batching, dtypes, gradients --------------------------------------------------------------
def _first_party(where: str, name: str) -> bool:
    return where == "registry" and get_registry().get("divergence", name).distribution == "dpok-divergences"


@cases
def test_float32_agrees_with_float64(where, name):
    d = build(where, name)
    C.check_float32(d)
    if _first_party(where, name):  # dpok-divergences conventions (not required of third parties)
        lp = C.logsm(torch.randn(4, 50, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
        assert d(lp.bfloat16(), lp.bfloat16()).dtype == torch.float32


@cases
def test_gradcheck_float64(where, name):
    C.check_gradcheck(build(where, name))


@pytest.mark.parametrize("name", [n for n in REGISTERED if _first_party("registry", n)])
def test_first_party_shape_mismatch_is_an_error(name):
    with pytest.raises(ValueError, match="same shape"):
        build("registry", name)(torch.zeros(2, 3), torch.zeros(2, 4))


# -- named divergences: the properties --------------------------------------------------
@given(dists=log_dists(count=2, zeros="any"))
def test_js_bounded_by_log2_and_hellinger_by_1(dists):
    reg = get_registry()
    lp, lq = dists
    assert (reg.build("divergence", "js")(lp, lq) <= math.log(2) + TOL).all()
    assert (reg.build("divergence", "hellinger")(lp, lq) <= 1 + TOL).all()


@given(dists=log_dists(count=2, zeros="any"))
def test_bhattacharyya_is_minus_log_one_minus_squared_hellinger(dists):
    reg = get_registry()
    lp, lq = dists
    h2 = reg.build("divergence", "hellinger")(lp, lq)
    b = reg.build("divergence", "bhattacharyya")(lp, lq)
    ok = h2 < 0.999  # beyond, -log1p(-h2) of the reference is itself rounding-limited
    assert _close(b[ok], -torch.log1p(-h2[ok]), rtol=1e-6, atol=1e-9)
    disjoint = ~(torch.isfinite(lp) & torch.isfinite(lq)).any(-1)
    assert torch.isinf(b[disjoint]).all() and torch.isfinite(b[~disjoint]).all()


@given(dists=log_dists(count=2, zeros="common"))
def test_renyi_non_decreasing_in_alpha_and_kl_in_the_limit(dists):
    reg = get_registry()
    lp, lq = dists
    alphas = [0.1, 0.3, 0.5, 0.9, 0.999, 1.001, 1.5, 2.0, 4.0]
    vals = torch.stack([reg.build("divergence", {"name": "renyi", "params": {"alpha": a}})(lp, lq) for a in alphas])
    assert (vals[1:] >= vals[:-1] - 1e-9 * (1 + vals[:-1].abs())).all(), vals
    kl = reg.build("divergence", "kl")(lp, lq)
    for a in (1 - 1e-6, 1 + 1e-6):
        near = reg.build("divergence", {"name": "renyi", "params": {"alpha": a}})(lp, lq)
        assert torch.allclose(near, kl, rtol=1e-4, atol=1e-7), (near, kl)


@given(dists=log_dists(count=2, zeros="any"))
def test_renyi_half_is_twice_bhattacharyya(dists):
    reg = get_registry()
    lp, lq = dists
    assert _close(reg.build("divergence", "renyi")(lp, lq), 2 * reg.build("divergence", "bhattacharyya")(lp, lq),
                  rtol=1e-6, atol=1e-9)


@given(dists=log_dists(count=3, zeros="any"))
def test_ordered_wasserstein_triangle_inequality(dists):
    w = get_registry().build("divergence", {"name": "wasserstein", "params": {"ground": "ordered"}})
    p, q, s = dists
    assert (w(p, s) <= w(p, q) + w(q, s) + TOL).all()


# generators only reachable through f_divergence (kl, forward_kl, js, hellinger are registered themselves)
GENERATOR_SPECS = [{"f": g} for g in ("pearson_chi2", "neyman_chi2", "total_variation")] + [
    {"f": "alpha", "alpha": a} for a in (-1.0, 0.25, 0.5, 2.0)]


@pytest.mark.parametrize("spec", GENERATOR_SPECS, ids=lambda s: "-".join(str(v) for v in s.values()))
@given(dists=log_dists(count=4, zeros="common"), data=st.data())
def test_every_generator_obeys_data_processing_and_joint_convexity(spec, dists, data):
    d = NamedFDivergence(**spec)
    p1, q1, p2, q2 = dists
    ids, groups = data.draw(partitions(p1.shape[-1]))
    base = d(p1, q1)
    assert torch.isfinite(base).all() and (base >= -TOL).all() and _close(d(p1, p1), torch.zeros_like(base))
    assert (d(merge_bins(p1, ids, groups), merge_bins(q1, ids, groups)) <= base + 1e-9 * (1 + base)).all()
    lam = data.draw(st.floats(0, 1))
    rhs = lam * base + (1 - lam) * d(p2, q2)
    assert (d(mix(p1, p2, lam), mix(q1, q2, lam)) <= rhs + 1e-9 * (1 + rhs)).all()
    if d.upper_bound is not None:
        assert (base <= d.upper_bound + TOL).all()
    if d.symmetric:
        assert _close(base, d(q1, p1))
