"""Hypothesis strategies for batches of categorical distributions given as log-probabilities.

Zero-mass patterns: ``"none"`` (strictly positive), ``"common"`` (the same zero entries in every
distribution of the draw, so every divergence is finite), ``"any"`` (independent zeros, disjoint
supports included). Every distribution keeps at least one positive entry.
"""

from __future__ import annotations

import hypothesis.strategies as st
import torch

LOGIT = st.floats(min_value=-6.0, max_value=6.0, allow_nan=False, allow_infinity=False, width=64)


def _log_softmax_masked(logits: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    x = logits.masked_fill(~keep, float("-inf"))
    return x - torch.logsumexp(x, dim=-1, keepdim=True)  # (log_softmax threads badly on tiny inputs)


@st.composite
def log_dists(draw, count: int = 2, zeros: str = "none", min_v: int = 2, max_v: int = 7, max_batch: int = 3):
    """``count`` float64 tensors ``[B, V]`` of log-probabilities (rows normalised)."""
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
            raise ValueError(zeros)
        out.append(_log_softmax_masked(logits, keep))
    return out


@st.composite
def partitions(draw, v: int):
    """A surjective map of V bins onto G <= V groups, as a ``[V]`` long tensor of group ids."""
    g = draw(st.integers(1, v))
    ids = draw(st.lists(st.integers(0, g - 1), min_size=v, max_size=v))
    ids[:g] = list(range(g))  # every group non-empty
    perm = draw(st.permutations(list(range(v))))
    return torch.tensor(ids)[torch.tensor(perm)], g


def merge_bins(logp: torch.Tensor, ids: torch.Tensor, groups: int) -> torch.Tensor:
    """Push ``[B, V]`` log-probabilities through the deterministic channel v -> ids[v]: ``[B, G]``."""
    p = logp.exp()
    merged = torch.zeros(*p.shape[:-1], groups, dtype=p.dtype).index_add_(-1, ids, p)
    return merged.log()


def mix(logp: torch.Tensor, logq: torch.Tensor, lam: float) -> torch.Tensor:
    """log(lam p + (1 - lam) q), with zero masses kept exactly zero."""
    return (lam * logp.exp() + (1.0 - lam) * logq.exp()).log()
