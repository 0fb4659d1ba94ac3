"""Hypothesis strategies for plugin authors' own property tests (needs ``pip install dpok-framework[test]``).

* :func:`log_dists`: batches of categorical distributions as float64 log-probabilities, with zero-mass
  patterns ``"none"``, ``"common"`` (one shared pattern: every divergence is finite) or ``"any"``.
* :func:`partitions`: a surjective merge of V bins into G groups (for data-processing tests).
* :data:`point_sets`: ``[n, d]`` embedding sets over scales 1e-3..1e3 with near-duplicates.
* :data:`margins`: preference margins including extreme ones.
* :func:`params_of`: params drawn from a component's ``Params`` model.
"""

from __future__ import annotations

import random

import hypothesis.strategies as st
import torch

from .samples import draw_params, log_softmax_masked, make_points, merge_bins, mix  # noqa: F401 (re-exported)

LOGIT = st.floats(min_value=-6.0, max_value=6.0, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def log_dists(draw, count: int = 2, zeros: str = "none", min_v: int = 2, max_v: int = 7, max_batch: int = 3):
    """``count`` float64 tensors ``[B, V]`` of log-probabilities (rows normalised, each keeps >= 1 entry)."""
    b = draw(st.integers(1, max_batch))
    v = draw(st.integers(min_v, max_v))
    out = []
    common = None
    if zeros == "common":
        common = torch.tensor(draw(st.lists(st.booleans(), min_size=b * v, max_size=b * v))).view(b, v)
        common[torch.arange(b), torch.tensor(draw(st.lists(st.integers(0, v - 1), min_size=b, max_size=b)))] = True
    for _ in range(count):
        logits = torch.tensor(draw(st.lists(LOGIT, min_size=b * v, max_size=b * v)), dtype=torch.float64).view(b, v)
        if zeros == "none":
            keep = torch.ones(b, v, dtype=torch.bool)
        elif zeros == "common":
            keep = common
        elif zeros == "any":
            keep = torch.tensor(draw(st.lists(st.booleans(), min_size=b * v, max_size=b * v))).view(b, v)
            keep[torch.arange(b), torch.tensor(draw(st.lists(st.integers(0, v - 1), min_size=b, max_size=b)))] = True
        else:
            raise ValueError(f"zeros must be 'none', 'common' or 'any', got {zeros!r}")
        out.append(log_softmax_masked(logits, keep))
    return out


@st.composite
def partitions(draw, v: int):
    """A surjective map of V bins onto G <= V groups, as a ``[V]`` long tensor of group ids, and G."""
    g = draw(st.integers(1, v))
    ids = draw(st.lists(st.integers(0, g - 1), min_size=v, max_size=v))
    ids[:g] = list(range(g))  # every group non-empty
    perm = draw(st.permutations(list(range(v))))
    return torch.tensor(ids)[torch.tensor(perm)], g


point_sets = st.builds(
    make_points,
    n=st.integers(2, 24), d=st.integers(1, 16),
    scale=st.sampled_from([1e-3, 0.1, 1.0, 30.0, 1e3]),
    dup_frac=st.sampled_from([0.0, 0.0, 0.3, 0.9]),
    seed=st.integers(0, 2**31 - 1))

margins = st.one_of(st.floats(-60.0, 60.0, allow_nan=False), st.sampled_from([-1e4, -1e3, 1e3, 1e4]))


def params_of(component_cls):
    """Valid ``component_cls.Params`` instances: the defaults, or fields drawn from their types and bounds."""
    return st.one_of(st.just(component_cls.Params()),
                     st.integers(0, 2**31 - 1).map(lambda s: draw_params(component_cls.Params, random.Random(s))))
