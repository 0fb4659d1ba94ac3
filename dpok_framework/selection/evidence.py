"""Evidence the selection metrics score candidates on, with memoised per-candidate primitives.

Two evidence types, one per candidate kind:

* :class:`KernelEvidence`: (e_x, e_y+, e_y-) triplets ``[N, d]``.  Per kernel it provides the
  loss-side log-ratios k_i = log K(x_i, y+_i) - log K(x_i, y-_i) (O(N d), exact in both modes) and
  one population-level quantity whose exact estimator is quadratic in N: the MMD^2 between the
  chosen and the rejected completions under the cosine-normalised kernel
  K~(a, b) = K(a, b) / sqrt(K(a, a) K(b, b))  (``exact``: unbiased U-statistic, O(N^2 d);
  ``approx``: Gretton et al.'s linear-time statistic on disjoint pairs of triplets, O(N d), on at most
  ``mmd_blocks`` = 16384 pairs of triplets (a random subset in canonical order; standard error reported)).
  The exact statistic uses the kernel's ``pairwise`` Gram blocks; everything else uses ``log_paired``.
  The approximation uses the triplet structure rather than RFF/Nystrom features: it is unbiased,
  needs nothing but ``log_paired``/``log_diag`` (so it applies to every registered kernel,
  shift-invariant or not, third-party ones included), and reports its own standard error.

* :class:`DivergenceEvidence`: M pairs of categorical distributions (``logp``, ``logq``, ``[M, V]``
  log-probabilities).  Per divergence it provides the per-pair values D(p_i || q_i), the norms of
  their gradients with respect to p's logits, values under small logit perturbations, and values on
  effective-support-truncated distributions.

Every subsample or pairing is taken in a *canonical* order (a seeded random projection of the row
contents, then a seeded shuffle), so results depend on the set of pairs and the seed, never on the
order the pairs came in.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, Literal

import torch

from ..errors import DataError
from .stats import canonical_order, nonfinite_rows

Mode = Literal["approx", "exact"]

# elements (rows * dim) evaluated per chunk by the exact quadratic estimators
_CHUNK_ELEMS = 1 << 23


def _shuffled_canonical(seed: int, *tensors: torch.Tensor) -> torch.Tensor:
    order = canonical_order(*tensors, seed=seed)  # [N] content-determined
    g = torch.Generator().manual_seed(int(seed) + 1)
    return order[torch.randperm(order.numel(), generator=g)]  # [N] random w.r.t. content, set-determined


def _check_matrix(name: str, t: Any, source: str) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise DataError(f"{source}: {name} must be a tensor, got {type(t).__name__}")
    if t.dim() != 2:
        raise DataError(f"{source}: {name} must be 2-D, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise DataError(f"{source}: {name} must be a float tensor, got {t.dtype}")
    return t.detach()


# ============================================================================ kernels
class KernelEvidence:
    """(e_x, e_y+, e_y-) triplets, each ``[N, d]`` (row i is one preference pair)."""

    target = "kernel"

    def __init__(self, e_x: torch.Tensor, e_pos: torch.Tensor, e_neg: torch.Tensor, *, mode: Mode = "approx",
                 seed: int = 0, fit_pairs: int = 256, mmd_blocks: int | None = 16384,
                 source: str = "embeddings") -> None:
        if mode not in ("approx", "exact"):
            raise ValueError(f"KernelEvidence: mode must be 'approx' or 'exact', got {mode!r}")
        tensors = {n: _check_matrix(n, t, source) for n, t in (("e_x", e_x), ("e_pos", e_pos), ("e_neg", e_neg))}
        shapes = {n: tuple(t.shape) for n, t in tensors.items()}
        if len(set(shapes.values())) != 1:
            raise DataError(f"{source}: e_x, e_pos and e_neg must have the same shape [N, d], got {shapes}")
        n = shapes["e_x"][0]
        if n < 4:
            raise DataError(f"{source}: kernel selection needs at least 4 pairs, got {n}")
        for name, t in tensors.items():
            bad = nonfinite_rows(t)
            if bool(bad.any()):
                raise DataError(f"{source}: {name} row {int(bad.nonzero()[0, 0])} contains NaN/inf")
        dtype = torch.float64 if mode == "exact" else (
            t.dtype if (t := tensors["e_x"]).dtype in (torch.float32, torch.float64) else torch.float32)
        self.e_x, self.e_pos, self.e_neg = (tensors[k].to(dtype) for k in ("e_x", "e_pos", "e_neg"))
        self.mode: Mode = mode
        self.seed = int(seed)
        self.fit_pairs = int(fit_pairs)
        if mmd_blocks is not None and mmd_blocks < 2:
            raise ValueError(f"KernelEvidence: mmd_blocks must be >= 2 or None, got {mmd_blocks}")
        self.mmd_blocks = mmd_blocks
        self.source = source
        self.order = _shuffled_canonical(self.seed, self.e_x, self.e_pos, self.e_neg)  # [N]
        self._stats: dict[int, tuple[Any, KernelStats]] = {}

    @property
    def n(self) -> int:
        return self.e_x.shape[0]

    @property
    def dim(self) -> int:
        return self.e_x.shape[1]

    def fit_embeddings(self) -> torch.Tensor:
        """``[3m, d]`` prompts and completions of m = min(fit_pairs, N) pairs, for ``kernel.fit``."""
        idx = self.order[: min(self.fit_pairs, self.n)]
        return torch.cat([self.e_x[idx], self.e_pos[idx], self.e_neg[idx]])

    def stats(self, kernel: Any) -> "KernelStats":
        hit = self._stats.get(id(kernel))
        if hit is None or hit[0] is not kernel:
            hit = (kernel, KernelStats(kernel, self))
            self._stats[id(kernel)] = hit
        return hit[1]

    def check(self, kernel: Any) -> str | None:
        """None if the kernel's log-ratio is finite on every pair, else why it cannot be used."""
        try:
            k = self.stats(kernel).log_ratio
        except Exception as exc:  # noqa: BLE001 - any failure rules the candidate out, with its message
            return f"log K cannot be evaluated on these embeddings ({type(exc).__name__}: {exc})"
        bad = int((~torch.isfinite(k)).sum())
        if bad:
            return f"log K(e_x, e_y) is not finite on {bad} of {k.numel()} pairs"
        return None

    def describe(self) -> dict[str, Any]:
        return {"pairs": self.n, "dim": self.dim, "mode": self.mode, "seed": self.seed, "source": self.source,
                "fit_pairs": min(self.fit_pairs, self.n), "mmd_blocks": self.mmd_blocks}


def _log_paired_chunked(kernel: Any, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``[n]`` float64 log K(x_i, y_i) in row chunks (keeps peak memory flat for 100k-row inputs)."""
    step = max(1, _CHUNK_ELEMS // max(x.shape[1], 1))
    out = [kernel.log_paired(x[i:i + step], y[i:i + step]).detach().to(torch.float64)
           for i in range(0, x.shape[0], step)]
    return torch.cat(out)


class KernelStats:
    """Memoised kernel primitives on one :class:`KernelEvidence` (see the module docstring)."""

    def __init__(self, kernel: Any, evidence: KernelEvidence) -> None:
        self.kernel = kernel
        self.ev = evidence

    # -- per-pair (O(N d), identical in both modes) ---------------------------------------
    @cached_property
    def log_pos(self) -> torch.Tensor:
        with torch.no_grad():
            return _log_paired_chunked(self.kernel, self.ev.e_x, self.ev.e_pos)  # [N]

    @cached_property
    def log_neg(self) -> torch.Tensor:
        with torch.no_grad():
            return _log_paired_chunked(self.kernel, self.ev.e_x, self.ev.e_neg)  # [N]

    @cached_property
    def log_ratio(self) -> torch.Tensor:
        """``[N]`` k_i = log K(x_i, y+_i) - log K(x_i, y-_i): the kernel term of the margin."""
        return self.log_pos - self.log_neg

    def _log_diag(self, x: torch.Tensor) -> torch.Tensor:
        step = max(1, _CHUNK_ELEMS // max(x.shape[1], 1))
        with torch.no_grad():
            return torch.cat([self.kernel.log_diag(x[i:i + step]).detach().to(torch.float64)
                              for i in range(0, x.shape[0], step)])  # [n]

    @cached_property
    def log_diag_pos(self) -> torch.Tensor:
        return self._log_diag(self.ev.e_pos)  # [N] log K(y+_i, y+_i)

    @cached_property
    def log_diag_neg(self) -> torch.Tensor:
        return self._log_diag(self.ev.e_neg)  # [N] log K(y-_i, y-_i)

    # -- population level ------------------------------------------------------------------
    @cached_property
    def mmd(self) -> tuple[float, float]:
        """(MMD^2, standard error) between chosen and rejected completions under K~ (in [0, 2])."""
        return self._mmd_exact() if self.ev.mode == "exact" else self._mmd_linear()

    def _mmd_linear(self) -> tuple[float, float]:
        o = self.ev.order
        m = self.ev.n // 2 if self.ev.mmd_blocks is None else min(self.ev.n // 2, self.ev.mmd_blocks)
        i1, i2 = o[0:2 * m:2], o[1:2 * m:2]  # [m] each: disjoint triplets
        pos, neg, dp, dn = self.ev.e_pos, self.ev.e_neg, self.log_diag_pos, self.log_diag_neg

        def k(a, ia, b, ib, da, db):  # [m] K~(a_ia, b_ib) in (0, 1]
            return (_log_paired_chunked(self.kernel, a[ia], b[ib]) - 0.5 * (da[ia] + db[ib])).exp()

        with torch.no_grad():
            h = (k(pos, i1, pos, i2, dp, dp) + k(neg, i1, neg, i2, dn, dn)
                 - k(pos, i1, neg, i2, dp, dn) - k(pos, i2, neg, i1, dp, dn))  # [m] Gretton et al. (2012), eq. (11)
        return float(h.mean()), float(h.std(correction=1) / math.sqrt(m)) if m > 1 else math.nan

    def _offdiag_sums(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Row and column sums over j != i of K~(a_i, b_j), a, b ``[n, d]`` -> ``[n]``, ``[n]`` (float64).

        Row blocks of the Gram matrix (``pairwise``), O(n^2 d).  Values, not logs, are summed, so an entry
        underflowing to 0 is harmless."""
        n = a.shape[0]
        scale_a = (-0.5 * self._log_diag(a)).exp()  # [n] 1 / sqrt(K(a_i, a_i))
        scale_b = (-0.5 * self._log_diag(b)).exp()  # [n]
        step = max(1, (1 << 22) // max(n, 1))
        rows = torch.zeros(n, dtype=torch.float64)
        cols = torch.zeros(n, dtype=torch.float64)
        with torch.no_grad():
            for i in range(0, n, step):
                r = min(step, n - i)
                gram = self.kernel.pairwise(a[i:i + r], b).detach().to(torch.float64)  # [r, n]
                vals = gram * scale_a[i:i + r, None] * scale_b[None, :]  # [r, n] K~ in (0, 1]
                vals[torch.arange(r), torch.arange(i, i + r)] = 0.0  # drop i == j
                rows[i:i + r] = vals.sum(1)
                cols += vals.sum(0)
        return rows, cols

    def _mmd_exact(self) -> tuple[float, float]:
        """Unbiased MMD^2 U-statistic over the pairs z_i = (y+_i, y-_i) and its jackknife standard error.

        U = sum_{i != j} h(z_i, z_j) / (n (n - 1)) with h = K~(a_i,a_j) + K~(b_i,b_j) - K~(a_i,b_j) - K~(a_j,b_i).
        Leaving pair i out gives U_(-i) = U + 2 (U - hbar_i) / (n - 2), hbar_i = sum_{j != i} h(z_i, z_j) / (n - 1),
        so the jackknife variance (n - 1)/n sum_i (U_(-i) - mean)^2 = 4 (n - 1) / (n (n - 2)^2) sum_i
        (hbar_i - mean hbar)^2 costs nothing beyond the Gram row sums (Arvesen 1969: consistent for
        U-statistics; ~ 4 Var(hbar) / n, the first-order Hoeffding term)."""
        a, b = self.ev.e_pos, self.ev.e_neg
        n = a.shape[0]
        aa, _ = self._offdiag_sums(a, a)
        bb, _ = self._offdiag_sums(b, b)
        ab_rows, ab_cols = self._offdiag_sums(a, b)
        per_pair = aa + bb - ab_rows - ab_cols  # [n] sum_{j != i} h(z_i, z_j)
        val = float(per_pair.sum()) / (n * (n - 1))
        hbar = per_pair / (n - 1)  # [n]
        if n < 3:
            return val, math.nan
        var = 4.0 * (n - 1) / (n * (n - 2) ** 2) * float(((hbar - hbar.mean()) ** 2).sum())
        return val, math.sqrt(var)


# ============================================================================ divergences
def _row_logsumexp(x: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(x, dim=-1)  # [M]


class DivergenceEvidence:
    """M pairs of categorical distributions as log-probabilities ``logp``, ``logq`` ``[M, V]``.

    ``-inf`` marks zero mass.  In the engine ``p`` plays the policy and ``q`` the reference; how a
    dataset is turned into such pairs is described in ``docs/selection.md`` (collect.py builds them).
    ``token_embeddings`` ``[V, h]`` is handed to geometry-aware divergences (``bind_token_embeddings``).
    """

    target = "divergence"

    def __init__(self, logp: torch.Tensor, logq: torch.Tensor, *, seed: int = 0,
                 token_embeddings: torch.Tensor | None = None, source: str = "distributions",
                 normalize_tol: float = 1e-3) -> None:
        logp, logq = _check_matrix("logp", logp, source), _check_matrix("logq", logq, source)
        if logp.shape != logq.shape:
            raise DataError(f"{source}: logp and logq must have the same shape [M, V], got {tuple(logp.shape)} "
                            f"and {tuple(logq.shape)}")
        m, v = logp.shape
        if m < 4 or v < 2:
            raise DataError(f"{source}: divergence selection needs at least 4 distribution pairs over at least "
                            f"2 outcomes, got shape {(m, v)}")
        dtype = torch.float64 if m * v <= (1 << 25) else torch.float32
        logp, logq = logp.to(dtype), logq.to(dtype)
        for name, t in (("logp", logp), ("logq", logq)):
            bad = (torch.isnan(t) | (t == math.inf)).any(-1)
            if bool(bad.any()):
                raise DataError(f"{source}: {name} row {int(bad.nonzero()[0, 0])} contains NaN or +inf; pass "
                                f"log-probabilities (-inf for zero mass)")
            lse = _row_logsumexp(t)  # [M]
            off = (lse.abs() > normalize_tol) | ~torch.isfinite(lse)
            if bool(off.any()):
                i = int(off.nonzero()[0, 0])
                raise DataError(f"{source}: {name} row {i} is not a normalised distribution "
                                f"(logsumexp = {float(lse[i]):.4g}); apply log_softmax first")
        self.logp, self.logq = logp, logq
        self.seed = int(seed)
        self.order = canonical_order(logp, logq, seed=self.seed)  # [M] content-determined row order
        self.source = source
        self.token_embeddings = token_embeddings
        self._stats: dict[int, tuple[Any, DivergenceStats]] = {}
        self._truncated: dict[tuple[float, str], torch.Tensor] = {}

    @property
    def n(self) -> int:
        return self.logp.shape[0]

    @property
    def vocab(self) -> int:
        return self.logp.shape[1]

    def stats(self, divergence: Any) -> "DivergenceStats":
        hit = self._stats.get(id(divergence))
        if hit is None or hit[0] is not divergence:
            if self.token_embeddings is not None:
                divergence.bind_token_embeddings(self.token_embeddings)
            hit = (divergence, DivergenceStats(divergence, self))
            self._stats[id(divergence)] = hit
        return hit[1]

    def check(self, divergence: Any) -> str | None:
        """None if the divergence can be evaluated here (values may still be +inf), else why not."""
        try:
            vals = self.stats(divergence).values
        except Exception as exc:  # noqa: BLE001 - any failure rules the candidate out, with its message
            return f"D(p || q) cannot be evaluated on these distributions ({type(exc).__name__}: {exc})"
        if tuple(vals.shape) != (self.n,):
            return f"forward returned shape {tuple(vals.shape)}, expected [{self.n}] (one value per pair)"
        if bool(torch.isnan(vals).any()):
            return f"D(p || q) is NaN on {int(torch.isnan(vals).sum())} of {self.n} pairs"
        return None

    def describe(self) -> dict[str, Any]:
        return {"pairs": self.n, "outcomes": self.vocab, "seed": self.seed, "source": self.source}

    # -- candidate-free data statistics -------------------------------------------------------
    @cached_property
    def bhattacharyya_coefficient(self) -> torch.Tensor:
        """``[M]`` BC(p_i, q_i) = sum_v sqrt(p_v q_v) in [0, 1] (log-domain, exact zeros allowed)."""
        return torch.logsumexp(0.5 * (self.logp + self.logq), dim=-1).exp().to(torch.float64).clamp(0.0, 1.0)

    @cached_property
    def total_variation(self) -> torch.Tensor:
        """``[M]`` TV(p_i, q_i) = 1/2 sum_v |p_v - q_v| in [0, 1]."""
        return 0.5 * (self.logp.exp() - self.logq.exp()).abs().sum(-1).to(torch.float64)

    @cached_property
    def log_ratio_samples(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(values, weights): log p_v - log q_v over outcomes where both are > 0, weighted by p_v / M."""
        both = torch.isfinite(self.logp) & torch.isfinite(self.logq)  # [M, V]
        r = (self.logp - self.logq)[both].to(torch.float64)
        w = self.logp.exp()[both].to(torch.float64)
        return r, w

    @cached_property
    def normalized_entropy_q(self) -> torch.Tensor:
        """``[M]`` H(q_i) / log V in [0, 1]."""
        q = self.logq.exp()
        ent = -(q * torch.where(q > 0, self.logq, torch.zeros_like(self.logq))).sum(-1)
        return (ent / math.log(self.vocab)).to(torch.float64)

    def truncated(self, mass: float, side: str) -> torch.Tensor:
        """``logp`` (``side="p"``) or ``logq`` restricted to its effective support and renormalised.

        The effective support of a distribution is the smallest set of outcomes holding at least
        ``mass`` of it (all outcomes with positive mass when ``mass >= 1``).
        """
        key = (float(mass), side)
        if key not in self._truncated:
            self._truncated[key] = _truncate(self.logp if side == "p" else self.logq, mass)
        return self._truncated[key]


def _truncate(logp: torch.Tensor, mass: float) -> torch.Tensor:
    if mass >= 1.0:
        return logp
    sorted_lp, idx = torch.sort(logp, dim=-1, descending=True)  # [M, V]
    before = torch.cumsum(sorted_lp.exp(), dim=-1) - sorted_lp.exp()  # mass strictly before each outcome
    keep_sorted = before < mass  # [M, V] the minimal prefix reaching `mass`
    keep = torch.zeros_like(keep_sorted).scatter(-1, idx, keep_sorted)
    return torch.log_softmax(torch.where(keep, logp, torch.full_like(logp, -math.inf)), dim=-1)


class DivergenceStats:
    """Memoised divergence primitives on one :class:`DivergenceEvidence`."""

    def __init__(self, divergence: Any, evidence: DivergenceEvidence) -> None:
        self.div = divergence
        self.ev = evidence
        self._perturbed: dict[tuple[float, int], list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._truncated: dict[tuple[float, float], torch.Tensor] = {}

    def _eval(self, logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.div(logp, logq).detach().to(torch.float64)  # [M]

    @cached_property
    def values(self) -> torch.Tensor:
        """``[M]`` D(p_i || q_i)."""
        return self._eval(self.ev.logp, self.ev.logq)

    @cached_property
    def grads(self) -> torch.Tensor:
        """``[M, V]`` d D(softmax(z_i) || q_i) / d z_i at z_i = log p_i (zero off p's support).

        The gradient with respect to the policy's logits is what the penalty feeds back into training.
        Rows where D is not finite, or whose gradient is not finite, are NaN; a divergence that is not
        differentiable gives zeros.
        """
        z = self.ev.logp.clone().requires_grad_(True)
        with torch.enable_grad():
            out = self.div(torch.log_softmax(z, dim=-1), self.ev.logq)  # [M]
            finite = torch.isfinite(out)
            if not bool(finite.any()) or not out.requires_grad:
                return torch.zeros_like(self.ev.logp, dtype=torch.float64)
            (grad,) = torch.autograd.grad(out[finite].sum(), z, allow_unused=True)
        if grad is None:
            return torch.zeros_like(self.ev.logp, dtype=torch.float64)
        support = torch.isfinite(self.ev.logp)  # [M, V]
        g = torch.where(support, grad, torch.zeros_like(grad)).to(torch.float64)
        bad = ~torch.isfinite(g).all(-1) | ~finite  # [M]
        return torch.where(bad[:, None], torch.full_like(g, math.nan), g)

    @cached_property
    def grad_norms(self) -> torch.Tensor:
        """``[M]`` ||grads_i||_2; +inf where the gradient (or D) is not finite."""
        g = self.grads
        norms = g.nan_to_num(0.0).pow(2).sum(-1).sqrt()
        return torch.where(torch.isnan(g).any(-1), torch.full_like(norms, math.inf), norms)

    def perturbed(self, eps: float, draws: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``draws`` seeded perturbations of the policy's logits: (D(p'_i || q_i) ``[M]``, first-order
        prediction grads_i . (z'_i - z_i) ``[M]``) with z' = log p + eps * xi, xi ~ N(0, I) on p's support,
        log p' = log_softmax(z').  The noise of a row depends on its content (not its position) and is
        the same for every candidate."""
        key = (float(eps), int(draws))
        if key not in self._perturbed:
            g = torch.Generator().manual_seed(self.ev.seed + 7919)
            support = torch.isfinite(self.ev.logp)
            outs = []
            for _ in range(draws):
                canon = torch.randn(self.ev.logp.shape, generator=g, dtype=torch.float64)  # [M, V]
                noise = torch.empty_like(canon)
                noise[self.ev.order] = canon  # a row's noise depends on its content, not its position
                step = torch.where(support, eps * noise, torch.zeros_like(noise))  # [M, V]
                z = torch.where(support, self.ev.logp + step.to(self.ev.logp.dtype), self.ev.logp)
                linear = (self.grads * step).sum(-1)  # [M] first-order change
                outs.append((self._eval(torch.log_softmax(z, dim=-1), self.ev.logq), linear))
            self._perturbed[key] = outs
        return self._perturbed[key]

    def truncated(self, mass_p: float, mass_q: float) -> torch.Tensor:
        """``[M]`` D(p^ || q^) with p, q truncated to effective supports of mass ``mass_p``, ``mass_q``
        (see :meth:`DivergenceEvidence.truncated`)."""
        key = (float(mass_p), float(mass_q))
        if key not in self._truncated:
            self._truncated[key] = self._eval(self.ev.truncated(mass_p, "p"), self.ev.truncated(mass_q, "q"))
        return self._truncated[key]
