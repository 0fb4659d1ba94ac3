"""Every registered loss at margins of +-inf and +-float max: never NaN; finite limits come out finite.

Issue 14 case 1: the sigmoid loss returned NaN at m = +inf with label_smoothing 0 (0 * -inf); TRL returns 0.
"""

from __future__ import annotations

import math

import pytest
import torch

from dpok_framework import get_registry
from dpok_framework.components.finiteness import check_loss_limits

INF = math.inf
SPECS = [{"name": n} for n in get_registry().names("loss")] + [
    {"name": "sigmoid", "params": {"label_smoothing": 0.2}}, {"name": "robust", "params": {"label_smoothing": 0.0}},
    {"name": "ipo", "params": {"convention": "trl"}}, {"name": "sigmoid", "params": {"convention": "trl"}}]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s["name"] + ("" if "params" not in s else str(s["params"])))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_loss_is_nan_free_at_infinite_margins(spec, dtype):
    check_loss_limits(get_registry().build("loss", spec), beta=0.1, dtype=dtype)


@pytest.mark.parametrize("name", ["sigmoid", "robust"])
def test_issue14_sigmoid_at_plus_inf_margin_is_zero_not_nan(name):
    loss = get_registry().build("loss", {"name": name, "params": {"label_smoothing": 0.0}})
    m = torch.tensor([INF], requires_grad=True)
    out = loss(m, 0.1)
    (g,) = torch.autograd.grad(out.sum(), m)
    assert out.detach().item() == 0.0 and g.item() == 0.0


@pytest.mark.parametrize("spec,limits", [
    ({"name": "sigmoid"}, [INF, 0.0]),
    ({"name": "sigmoid", "params": {"label_smoothing": 0.2}}, [INF, INF]),
    ({"name": "hinge"}, [INF, 0.0]),
    ({"name": "robust"}, [INF, -INF]),
    ({"name": "ipo"}, [INF, INF])])
def test_known_limits(spec, limits):
    """-log sigmoid(m) -> 0 as m -> inf; cDPO/rDPO with eps > 0 grow like eps |m| (rDPO downwards)."""
    got = check_loss_limits(get_registry().build("loss", spec), beta=0.1, dtype=torch.float32)  # [-inf, -max, max, inf]
    assert [got[0].item(), got[3].item()] == limits
