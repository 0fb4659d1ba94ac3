"""Heavy-Tailed Self-Regularisation (HT-SR): power-law exponents of layer weight spectra.

Martin & Mahoney (2021, JMLR 22(165); Nature Communications 12:4122), with WeightWatcher 0.7.7's
definitions. For a weight matrix W of shape [N, M] with N >= M (transposed otherwise) the empirical spectral
density (ESD) is the set of eigenvalues of

    X = W^T W,        lambda_i = s_i(W)^2     (s_i: singular values; no division by N, as WeightWatcher)

A power law rho(lambda) ~ lambda^-alpha is fitted to the ESD tail (MLE, x_min by KS distance; see
:mod:`.powerlaw`) over the eigenvalues above 1e-5, every one but the largest a candidate x_min
(``min_tail`` = 2) and the KS distance taken against the lower step of the empirical CDF: WeightWatcher's
``WWFit`` rule for layers with at least 20 eigenvalues (it switches to a small-N variant below that; we do
not). Per layer the *weighted alpha* is

    alpha_hat = alpha * log10(lambda_max)

and the model-level numbers are the means of alpha and alpha_hat over the analysed layers (WeightWatcher's
``alpha_weighted``; dividing the ESD by N would subtract alpha * log10(N) from it). Reading (Martin & Mahoney): alpha in [2, 6] is typical of well-trained layers, alpha < 2
suggests over-fitting / memorisation, alpha > 6 under-training; a lower model-level alpha_hat correlates with
better test accuracy across models of one architecture.

Which matrices: every module's 2-D ``weight`` parameter (Linear, Embedding, GPT-2 Conv1D), shared storage
(tied embeddings / LM head) analysed once, matrices with fewer than ``min_evals`` eigenvalues skipped.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Iterable, Iterator

import numpy as np
import torch

from .powerlaw import fit_power_law


@dataclass(frozen=True)
class LayerAlpha:
    name: str
    shape: tuple[int, int]
    num_evals: int
    lambda_max: float
    alpha: float
    alpha_weighted: float
    xmin: float
    ks: float
    n_tail: int
    sigma: float

    def to_json(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d


@dataclass
class HTSRSummary:
    layers: list[LayerAlpha] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)

    @property
    def alpha(self) -> float:
        """Mean alpha over analysed layers (nan if none)."""
        return float(np.mean([l.alpha for l in self.layers])) if self.layers else math.nan

    @property
    def alpha_weighted(self) -> float:
        """Mean of alpha * log10(lambda_max) over analysed layers (nan if none)."""
        return float(np.mean([l.alpha_weighted for l in self.layers])) if self.layers else math.nan

    @property
    def frac_alpha_below_2(self) -> float:
        return float(np.mean([l.alpha < 2.0 for l in self.layers])) if self.layers else math.nan

    def to_json(self) -> dict:
        return {"alpha": self.alpha, "alpha_weighted": self.alpha_weighted,
                "frac_alpha_below_2": self.frac_alpha_below_2, "num_layers": len(self.layers),
                "layers": [l.to_json() for l in self.layers],
                "skipped": [{"name": n, "reason": r} for n, r in self.skipped]}


EVALS_THRESH = 1e-5  # eigenvalues at or below it are left out of the fit (WeightWatcher's EVALS_THRESH)


def esd(weight: torch.Tensor) -> np.ndarray:
    """Eigenvalues of W^T W, ascending, float64, length min(N, M) (WeightWatcher's ESD: no 1/N).

    Computed as ``eigvalsh`` of the min(N, M)-square Gram matrix in float64: the same values as s_i(W)^2 to
    ~1e-15 relative to lambda_max, and an order of magnitude faster than an SVD on CPU. Rounding can leave
    the smallest eigenvalues slightly negative; they are clamped to 0 (the tail fit ignores values <= 0).
    """
    if weight.ndim != 2:
        raise ValueError(f"esd expects a 2-D weight matrix, got shape {tuple(weight.shape)}")
    w = weight.detach().to(device="cpu", dtype=torch.float64)  # [N, M]
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T  # [min, min]
    ev = np.linalg.eigvalsh(gram.numpy())  # ascending; LAPACK syevd (faster than torch's on CPU here)
    return np.clip(ev, 0.0, None)


def layer_alpha(name: str, weight: torch.Tensor, min_tail: int = 2) -> LayerAlpha:
    """Fit the ESD tail of one weight matrix and weight the exponent by log10 of its top eigenvalue.

    ``min_tail`` = 2 is WeightWatcher's candidate set; a larger value keeps x_min below the top
    ``min_tail`` eigenvalues (more conservative, no longer WeightWatcher's number).
    """
    evals = esd(weight)
    fit = fit_power_law(evals[evals > EVALS_THRESH], min_tail=min_tail, ks="lower")
    lmax = float(evals[-1])
    return LayerAlpha(name=name, shape=(int(weight.shape[0]), int(weight.shape[1])), num_evals=int(evals.size),
                      lambda_max=lmax, alpha=fit.alpha, alpha_weighted=fit.alpha * math.log10(lmax),
                      xmin=fit.xmin, ks=fit.ks, n_tail=fit.n_tail, sigma=fit.sigma)


def weight_matrices(model: torch.nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """(module name, 2-D weight) for every module with a 2-D ``weight`` parameter; tied weights once."""
    seen: set[int] = set()
    for name, module in model.named_modules():
        w = getattr(module, "weight", None)
        if not isinstance(w, torch.Tensor) or w.ndim != 2 or w.is_meta:
            continue
        key = w.data_ptr()
        if key in seen:
            continue
        seen.add(key)
        yield name or "<root>", w


def analyze_matrices(matrices: Iterable[tuple[str, torch.Tensor]], min_evals: int = 10, min_tail: int = 2
                     ) -> HTSRSummary:
    """Weighted alpha of each (name, W); matrices with < ``min_evals`` eigenvalues are skipped (and listed)."""
    if min_evals < 2:
        raise ValueError(f"min_evals must be >= 2, got {min_evals}")
    out = HTSRSummary()
    for name, w in matrices:
        k = min(w.shape)
        if k < min_evals:
            out.skipped.append((name, f"{k} eigenvalues < min_evals={min_evals}"))
            continue
        try:
            out.layers.append(layer_alpha(name, w, min_tail=min_tail))
        except ValueError as exc:
            out.skipped.append((name, str(exc)))
            continue
        if not (out.layers[-1].lambda_max > 0 and math.isfinite(out.layers[-1].alpha)):
            out.skipped.append((name, "degenerate spectrum"))
            out.layers.pop()
    return out


def analyze_model(model: torch.nn.Module, min_evals: int = 10, min_tail: int = 2) -> HTSRSummary:
    """HT-SR summary of every 2-D weight of ``model`` (see module docstring)."""
    return analyze_matrices(weight_matrices(model), min_evals=min_evals, min_tail=min_tail)


def compare(policy: HTSRSummary, reference: HTSRSummary | None) -> dict:
    """Side-by-side JSON: overall numbers and per-layer alpha / alpha_weighted of both models."""
    ref_by_name = {l.name: l for l in reference.layers} if reference is not None else {}
    rows = []
    for l in policy.layers:
        r = ref_by_name.get(l.name)
        rows.append({"name": l.name, "shape": list(l.shape),
                     "alpha/policy": l.alpha, "alpha_weighted/policy": l.alpha_weighted,
                     "alpha/reference": r.alpha if r else None,
                     "alpha_weighted/reference": r.alpha_weighted if r else None})
    return {"policy": {k: v for k, v in policy.to_json().items() if k not in ("layers", "skipped")},
            "reference": ({k: v for k, v in reference.to_json().items() if k not in ("layers", "skipped")}
                          if reference is not None else None),
            "layers": rows}
