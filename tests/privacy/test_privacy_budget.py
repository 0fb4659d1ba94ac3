"""Budget: every release is charged to one accountant; past the budget the release is refused, uncharged."""

from __future__ import annotations

import json

import pytest
import torch

from dpok_framework.components.privacy import PrivacyBudgetExceeded
from dpok_framework.errors import DpokError


def _x(seed=0):
    return torch.randn(40, 3, generator=torch.Generator().manual_seed(seed)) / 3


def test_planned_releases_pass_and_the_next_is_refused_uncharged(dp_cls):
    w = dp_cls(epsilon=1.0, delta=1e-6, releases=3, seed=0)
    spent = [w.release_covariance(_x(i)).epsilon_spent for i in range(3)]
    assert spent == sorted(spent) and spent[-1] <= 1.0
    before, log, stream = w.spent(), list(w.releases), w._generator.get_state()
    with pytest.raises(PrivacyBudgetExceeded) as info:
        w.release_covariance(_x(3))
    msg = str(info.value)
    assert isinstance(info.value, DpokError)
    assert "release #4" in msg and "privacy.epsilon=1" in msg and "Nothing was released or charged" in msg
    assert "privacy.max_epsilon" in msg and "privacy.params.releases" in msg
    assert w.spent() == before and w.releases == log and w.refused == 1
    assert torch.equal(w._generator.get_state(), stream)  # no noise was even drawn
    assert w.to_json()["refused"] == 1 and len(w.to_json()["releases"]) == 3


def test_max_epsilon_allows_more_releases_than_planned_and_then_stops(dp_cls):
    w = dp_cls(epsilon=1.0, max_epsilon=1.5, delta=1e-6, releases=2, seed=0)
    count = 0
    with pytest.raises(PrivacyBudgetExceeded, match="privacy.max_epsilon=1.5"):
        for i in range(100):
            w.release_covariance(_x(i))
            count += 1
    assert count > 2 and w.spent()[0] <= 1.5
    assert w.ledger.would_spend(w.noise_multiplier) > 1.5


def test_a_single_release_larger_than_the_budget_is_refused(dp_cls):
    w = dp_cls(noise_multiplier=0.5, epsilon=1.0, delta=1e-6, seed=0)
    with pytest.raises(PrivacyBudgetExceeded, match="release #1 would raise epsilon from 0 to.*raise "
                                                    r"privacy.params.noise_multiplier \(currently 0.5\)"):
        w.release_covariance(_x())
    assert w.spent() == (0.0, 0.0)


def test_privacy_json_is_serialisable_and_records_the_spend(dp_cls):
    w = dp_cls(epsilon=2.0, delta=1e-6, releases=2, seed=0)
    w.release_covariance(_x())
    w.release_covariance(torch.stack([_x(1), _x(2), _x(3)], dim=1))
    doc = json.loads(json.dumps(w.to_json()))
    assert doc["wrapper"] == "dp_covariance" and doc["neighbouring"] == "add/remove one record"
    assert doc["spent"] == {"epsilon": w.spent()[0], "delta": 1e-6}
    assert [r["rows_per_record"] for r in doc["releases"]] == [1, 3]
    assert doc["releases"][1]["sensitivity"] == pytest.approx(3 * doc["row_sensitivity"])
    assert doc["opacus_history"] == [[w.noise_multiplier, 1.0, 2]]
    assert doc["noise_multiplier"] == w.noise_multiplier


def test_resume_restores_the_spent_budget(dp_cls):
    w = dp_cls(epsilon=1.0, delta=1e-6, releases=2, seed=0)
    w.release_covariance(_x())
    state = json.loads(json.dumps(w.state_dict()))
    resumed = dp_cls(epsilon=1.0, delta=1e-6, releases=2, seed=1)
    resumed.load_state_dict(state)
    assert resumed.spent() == w.spent() and len(resumed.releases) == 1
    resumed.release_covariance(_x())
    with pytest.raises(PrivacyBudgetExceeded, match="release #3"):
        resumed.release_covariance(_x())
    with pytest.raises(ValueError, match="changed privacy settings epsilon"):
        dp_cls(epsilon=2.0, delta=1e-6, releases=2).load_state_dict(state)
    with pytest.raises(ValueError, match="without `opacus_history`"):
        dp_cls().load_state_dict({"wrapper": "other"})
