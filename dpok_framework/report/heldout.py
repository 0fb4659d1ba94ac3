"""Held-out results of a run with their uncertainty, from the counts in ``summary.json``.

The engine's held-out summary gives, on n pairs, the fraction where the policy (and the reference) ranks
the chosen answer first by summed log-prob (``accuracy``) and the fraction with a positive implicit-reward
margin ``beta * ((lp+ - lr+) - (lp- - lr-)) > 0`` (``reward_accuracy``). Reported here:

* exact (Clopper-Pearson) intervals of each accuracy, from k = round(accuracy * n);
* the verdict whether the policy differs from the reference: an exact two-sided sign test on the reward
  margins (k positive out of n; H0: a margin is as likely positive as negative, i.e. training did not move
  the policy's preference for the chosen answer relative to the reference). A margin of exactly 0 on every
  pair (an untrained policy) means no difference.
"""

from __future__ import annotations

from typing import Any

from ..evaluation.significance import clopper_pearson, sign_test

LEVEL = 0.95
ALPHA = 0.05


def _k(frac: float, n: int) -> int:
    return int(round(float(frac) * n))


def heldout_uncertainty(summary: dict[str, Any], level: float = LEVEL, alpha: float = ALPHA
                        ) -> dict[str, Any] | None:
    """``{"n_pairs", "rows": [{label, value, low, high}], "sign_test": {...}, "verdict"}`` or None when the
    run has no held-out results."""
    pol, ref, n = summary.get("policy"), summary.get("reference"), int(summary.get("n_pairs") or 0)
    if not pol or not ref or n <= 0:
        return None
    ev = summary.get("eval") or {}  # the held-out metrics under their training names (TRL's rewards/*)
    pol = {**pol, "reward_accuracy": pol.get("reward_accuracy", ev.get("rewards/accuracies")),
           "mean_reward_margin": pol.get("mean_reward_margin", ev.get("rewards/margins"))}
    pol = {k: v for k, v in pol.items() if v is not None}
    rows = []
    for label, src, key in (("policy accuracy [log p(y+) > log p(y-)]", pol, "accuracy"),
                            ("reference accuracy [log p(y+) > log p(y-)]", ref, "accuracy"),
                            ("reward accuracy [margin > 0] (TRL)", pol, "reward_accuracy")):
        if key in src:
            lo, hi = clopper_pearson(_k(src[key], n), n, level)
            rows.append({"label": label, "value": float(src[key]), "low": lo, "high": hi})
    k_pos = _k(pol.get("reward_accuracy", 0.0), n)
    margin = float(pol.get("mean_reward_margin", 0.0))
    if k_pos == 0 and margin == 0.0:
        p, verdict = 1.0, "policy and reference are identical on the held-out pairs (every reward margin is 0)"
    else:
        p = sign_test(k_pos, n - k_pos)
        if p < alpha:
            side = "more" if k_pos > n - k_pos else "less"
            verdict = (f"the policy differs from the reference: it prefers the chosen answer {side} than the "
                       f"reference does on {k_pos}/{n} pairs (sign test p={p:.3g} < {alpha:g})")
        else:
            verdict = (f"no detectable difference from the reference on {n} held-out pairs: reward margin > 0 "
                       f"on {k_pos}/{n} (sign test p={p:.3g} >= {alpha:g}); train longer or hold out more "
                       "pairs to resolve a smaller shift")
    return {"n_pairs": n, "level": level, "rows": rows,
            "sign_test": {"positive": k_pos, "n": n, "p_value": p, "alpha": alpha}, "verdict": verdict}


def format_uncertainty(u: dict[str, Any]) -> list[str]:
    """Lines for the terminal: each accuracy with its interval, then the verdict."""
    lines = [f"  {r['label']:44}{r['value']:.3f}  [{r['low']:.3f}, {r['high']:.3f}]" for r in u["rows"]]
    lines.append(f"  ({u['level']:.0%} exact binomial intervals on {u['n_pairs']} pairs)")
    lines.append(f"Verdict: {u['verdict']}.")
    return lines
