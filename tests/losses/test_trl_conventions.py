"""`convention: trl` options against TRL 1.16's own DPO loss code; `convention: paper` against the papers.

TRL (the ``bench`` extra) is driven through :mod:`trl_harness`, which calls
``trl.trainer.dpo_trainer.DPOTrainer._compute_loss`` (v1.16.0) itself. Skipped only when TRL is missing;
CI installs the extra (scripts/bootstrap.sh). Float32 throughout, as TRL computes it.
"""

from __future__ import annotations

import math

import pytest
import torch

from dpok_framework import get_registry
from dpok_framework.errors import ComponentParamsError

trl = pytest.importorskip("trl")
from trl_harness import trl_per_pair_loss  # noqa: E402

BETA = 0.1
# (chosen, rejected) policy and reference summed log-probs and completion lengths: ordinary DPO magnitudes
CASES = [((-10.0, -30.0), (-12.0, -25.0), (20, 35)), ((-41.5, -18.0), (-40.0, -21.5), (20, 35)),
         ((-7.25, -60.0), (-9.0, -52.0), (12, 48)), ((-80.0, -79.0), (-78.5, -83.0), (64, 3)),
         ((-3.0, -3.5), (-3.0, -3.0), (1, 1))]
# dpok link spec -> TRL f_divergence_type (+ coefficient)
LINKS = [({"name": "kl"}, "reverse_kl", 0.5), ({"name": "forward_kl"}, "forward_kl", 0.5),
         ({"name": "js"}, "js_divergence", 0.5),
         ({"name": "f_divergence", "params": {"f": "alpha", "alpha": 0.3, "convention": "trl"}}, "alpha_divergence", 0.3),
         ({"name": "f_divergence", "params": {"f": "alpha", "alpha": -0.5, "convention": "trl"}}, "alpha_divergence", -0.5),
         ({"name": "f_divergence", "params": {"f": "alpha", "alpha": 1.7, "convention": "trl"}}, "alpha_divergence", 1.7)]
LINK_IDS = ["kl", "forward_kl", "js", "alpha_trl_0.3", "alpha_trl_-0.5", "alpha_trl_1.7"]


def dpok_per_pair_loss(loss_spec, link_spec, logps, ref_logps, lengths, beta=BETA) -> float:
    """The objective's margin path: loss.link_scores(link, r, lengths) -> m -> loss(m, beta)."""
    reg = get_registry()
    loss, link = reg.build("loss", loss_spec), reg.build("divergence", link_spec)
    r = torch.tensor(logps, dtype=torch.float32) - torch.tensor(ref_logps, dtype=torch.float32)  # [2]
    psi = loss.link_scores(link, r, torch.tensor(lengths))
    return float(loss(beta * (psi[:1] - psi[1:]), beta))


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=2e-5, abs_tol=2e-6)


@pytest.mark.parametrize("link,ftype,coef", LINKS, ids=LINK_IDS)
@pytest.mark.parametrize("case", CASES)
def test_ipo_trl_convention_matches_trl(case, link, ftype, coef):
    logps, ref, lengths = case
    ours = dpok_per_pair_loss({"name": "ipo", "params": {"convention": "trl"}}, link, logps, ref, lengths)
    theirs = trl_per_pair_loss("ipo", BETA, logps, ref, lengths, f_divergence_type=ftype, f_alpha_divergence_coef=coef)
    assert _close(ours, theirs), (ours, theirs)


def test_issue14_ipo_lengths_20_35_trl_vs_azar():
    """Issue 14 case 2: with lengths 20 and 35 the two conventions differ; each matches its reference."""
    g = torch.Generator().manual_seed(14)
    for _ in range(5):
        logps = tuple(float(x) for x in -torch.rand(2, generator=g) * 60 - 5)
        ref = tuple(float(x) for x in -torch.rand(2, generator=g) * 60 - 5)
        trl_value = trl_per_pair_loss("ipo", BETA, logps, ref, (20, 35))
        assert _close(dpok_per_pair_loss({"name": "ipo", "params": {"convention": "trl"}}, {"name": "kl"},
                                         logps, ref, (20, 35)), trl_value)
        h = (logps[0] - ref[0]) - (logps[1] - ref[1])  # Azar et al. eq. 17 on summed log-ratios
        azar = dpok_per_pair_loss("ipo", {"name": "kl"}, logps, ref, (20, 35))
        assert math.isclose(azar, (h - 1 / (2 * BETA)) ** 2, rel_tol=1e-5)


@pytest.mark.parametrize("link,ftype,coef", LINKS, ids=LINK_IDS)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("loss", ["sigmoid", "hinge", "robust"])
def test_sigmoid_hinge_robust_match_trl(loss, case, link, ftype, coef):
    logps, ref, lengths = case
    spec = {"name": loss, "params": {"convention": "trl"} if loss == "sigmoid" else {}}
    eps = 0.1 if loss == "robust" else 0.0  # dpok's robust default
    ours = dpok_per_pair_loss(spec, link, logps, ref, lengths)
    theirs = trl_per_pair_loss(loss, BETA, logps, ref, lengths, f_divergence_type=ftype, f_alpha_divergence_coef=coef,
                               label_smoothing=eps)
    assert _close(ours, theirs), (ours, theirs)


def test_label_smoothing_trl_sigmoid_ignores_it_paper_is_cdpo():
    """TRL 1.16's sigmoid ignores label_smoothing; dpok's `paper` convention is cDPO; `trl` refuses eps > 0."""
    logps, ref, lengths = CASES[0]
    plain = trl_per_pair_loss("sigmoid", BETA, logps, ref, lengths)
    assert trl_per_pair_loss("sigmoid", BETA, logps, ref, lengths, label_smoothing=0.3) == plain
    m = BETA * ((logps[0] - ref[0]) - (logps[1] - ref[1]))
    cdpo = -0.7 * math.log(1 / (1 + math.exp(-m))) - 0.3 * math.log(1 / (1 + math.exp(m)))
    ours = dpok_per_pair_loss({"name": "sigmoid", "params": {"label_smoothing": 0.3}}, {"name": "kl"}, logps, ref, lengths)
    assert math.isclose(ours, cdpo, rel_tol=1e-5) and not math.isclose(ours, plain, rel_tol=1e-2)
    with pytest.raises(ComponentParamsError, match="ignores label_smoothing"):
        get_registry().build("loss", {"name": "sigmoid", "params": {"label_smoothing": 0.3, "convention": "trl"}})


@pytest.mark.parametrize("alpha_trl", [0.3, 0.5, -0.5, 1.7])
def test_alpha_coefficient_trl_is_paper_with_one_minus_alpha(alpha_trl):
    """TRL's f_alpha_divergence_coef alpha_T is the paper's (Wang et al.) order a = 1 - alpha_T."""
    reg = get_registry()
    trl_link = reg.build("divergence", {"name": "f_divergence",
                                        "params": {"f": "alpha", "alpha": alpha_trl, "convention": "trl"}})
    paper_link = reg.build("divergence", {"name": "f_divergence", "params": {"f": "alpha", "alpha": 1 - alpha_trl}})
    r = torch.linspace(-20, 20, 81, dtype=torch.float64)
    torch.testing.assert_close(trl_link.link(r), paper_link.link(r))
    logps, ref, lengths = CASES[2]
    ours = dpok_per_pair_loss("sigmoid", {"name": "f_divergence", "params": {"f": "alpha", "alpha": 1 - alpha_trl}},
                              logps, ref, lengths)
    theirs = trl_per_pair_loss("sigmoid", BETA, logps, ref, lengths, f_divergence_type="alpha_divergence",
                               f_alpha_divergence_coef=alpha_trl)
    assert _close(ours, theirs)
