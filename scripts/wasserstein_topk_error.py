"""Measure the error of the `wasserstein` divergence's top-k restriction against exact W1 (docs/divergences.md).

Method (fixed before any number was looked at):

* ground: the default cost, the angle between token embeddings. Embeddings: the input embeddings of the
  builtin SmolLM2-135M (rows 1000..1000+V-1) when that wheel is installed, else N(0, 1) vectors in 64-d
  (the output says which).
* distributions over V = 256 tokens: p = softmax(z), q = softmax(z + 0.5 n), z ~ N(0, s^2), n ~ N(0, 1),
  for s in {4, 1.5, 0.5} (peaked, medium, flat); 4 pairs per s, seed 0.
* exact W1: the transport LP on the full support (scipy linprog, HiGHS).
* restricted: `Wasserstein(top_k=k, epsilon=0.01, max_iter=2000, tol=1e-7)` for k in {8, 16, 32, 64, 128};
  k = V is the same Sinkhorn without restriction, so its row is the entropic bias alone.
* reported: mean entropy H(p) in nats, mean p-mass inside the top-k union, mean |W_k - W1| and mean
  relative error |W_k - W1| / W1.

Run: ``.venv/bin/python scripts/wasserstein_topk_error.py`` (2 CPU-minutes; longer on a busy machine); prints a
Markdown table.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from scipy import sparse
from scipy.optimize import linprog

from dpok_divergences import Wasserstein
from dpok_divergences.wasserstein import ground_cost

V, PAIRS, SEED, EPS = 256, 4, 0, 0.01
SCALES = {"peaked (s=4)": 4.0, "medium (s=1.5)": 1.5, "flat (s=0.5)": 0.5}
KS = [8, 16, 32, 64, 128, V]


def embeddings() -> tuple[torch.Tensor, str]:
    try:
        from safetensors import safe_open

        from dpok_framework.models import resolve_model_dir

        path = os.path.join(resolve_model_dir("builtin:smollm2-135m-instruct"), "model.safetensors")
        with safe_open(path, "pt") as f:
            emb = f.get_slice("model.embed_tokens.weight")[1000:1000 + V]
        return emb.to(torch.float64), "SmolLM2-135M input embeddings, rows 1000..1255"
    except Exception:  # noqa: BLE001 - the model wheel is optional
        g = torch.Generator().manual_seed(SEED)
        return torch.randn(V, 64, generator=g, dtype=torch.float64), "N(0, 1) vectors in 64-d"


def exact_w1(p: np.ndarray, q: np.ndarray, cost: np.ndarray) -> float:
    """Transport LP with sparse marginal constraints; the last column constraint is implied (sum p = sum q)."""
    n = cost.shape[0]
    q = q * (p.sum() / q.sum())  # equal totals to the last ulp
    rows = sparse.kron(sparse.eye(n), np.ones((1, n)))
    cols = sparse.kron(np.ones((1, n)), sparse.eye(n))
    a_eq = sparse.vstack([rows, cols]).tocsr()[:-1]
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=np.concatenate([p, q])[:-1], bounds=(0, None), method="highs")
    assert res.success, res.message
    return float(res.fun)


def main() -> None:
    torch.set_num_threads(1)
    emb, source = embeddings()
    cost = ground_cost(emb, torch.arange(V), "angle").numpy()
    g = torch.Generator().manual_seed(SEED)
    print(f"ground: angle on {source}; V = {V}; epsilon = {EPS}; {PAIRS} pairs per row\n")
    print("| distributions | H(p) nats | W1 exact | k | p-mass in union | mean abs error | mean rel. error |")
    print("|---|---|---|---|---|---|---|")
    for label, s in SCALES.items():
        z = torch.randn(PAIRS, V, generator=g, dtype=torch.float64) * s
        lp = torch.log_softmax(z, -1)
        lq = torch.log_softmax(z + 0.5 * torch.randn(PAIRS, V, generator=g, dtype=torch.float64), -1)
        exact = np.array([exact_w1(lp[i].exp().numpy(), lq[i].exp().numpy(), cost) for i in range(PAIRS)])
        entropy = float(-(lp.exp() * lp).sum(-1).mean())
        for k in KS:
            w = Wasserstein(top_k=k, epsilon=EPS, max_iter=2000, tol=1e-7)
            w.bind_token_embeddings(emb)
            with torch.no_grad():
                got = w(lp, lq).numpy()
            union = torch.cat([lp.topk(k, -1).indices, lq.topk(k, -1).indices], -1)
            mass = float(torch.stack([lp[i].exp()[union[i].unique()].sum() for i in range(PAIRS)]).mean())
            err = np.abs(got - exact)
            print(f"| {label} | {entropy:.2f} | {exact.mean():.4f} | {k if k < V else f'{V} (all)'} | {mass:.3f} "
                  f"| {err.mean():.4f} | {(err / exact).mean():.1%} |")


if __name__ == "__main__":
    main()
