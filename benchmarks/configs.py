"""The benchmarked configurations.

``trl`` / ``trl-precompute``: TRL's DPOTrainer. ``dpo`` / ``dpo-precompute``: the dpok engine with plain
DPO (sigmoid loss, ``kl`` link, no kernel, no penalty), the same model, data, batch, max length, AdamW,
learning rate, schedule, clipping and reference handling. ``rbf`` / ``hmk``: the hybrid kernel term on
policy-hidden embeddings pooled from the same forward. ``penalty-<name>``: every registered
divergence as the explicit token-level penalty (needs live reference logits). ``rbf-encoder`` /
``hmk-encoder``: the kernel term on a frozen sentence encoder's text embeddings, computed at set-up into a
fresh cache (uncached); ``-cached``: the same with the embeddings already on disk (a warm-up run fills the
cache before round 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BenchConfig:
    name: str
    framework: str  # "trl" | "dpok"
    precompute: bool = False
    sections: dict[str, Any] = field(default_factory=dict)  # dpok config sections merged over plain DPO
    group: str = "features"  # "vs-trl" | "features"
    shared_cache: bool = False  # one cache directory for all runs, filled by an unmeasured warm-up run


KERNEL_GAMMA = 0.3
PENALTY_ALPHA = 0.05


def penalty_names(registry=None) -> list[str]:
    """Registered divergences (each can be an explicit penalty), in registry order."""
    from dpok_framework.registry import get_registry

    return list((registry or get_registry()).names("divergence"))


def all_configs(divergences: list[str]) -> list[BenchConfig]:
    out = [
        BenchConfig("trl", "trl", group="vs-trl"),
        BenchConfig("dpo", "dpok", group="vs-trl"),
        BenchConfig("trl-precompute", "trl", precompute=True, group="vs-trl"),
        BenchConfig("dpo-precompute", "dpok", precompute=True, group="vs-trl"),
        BenchConfig("rbf", "dpok", sections={"kernel": {"name": "rbf", "gamma": KERNEL_GAMMA}}),
        BenchConfig("hmk", "dpok", sections={"kernel": {"name": "hmk", "gamma": KERNEL_GAMMA,
                                                        "entropy_weight": 0.01}}),
    ]
    encoder = {"name": "sentence_encoder"}
    for kernel, extra in (("rbf", {}), ("hmk", {"entropy_weight": 0.01})):
        sections = {"kernel": {"name": kernel, "gamma": KERNEL_GAMMA, "embedder": encoder, **extra}}
        out.append(BenchConfig(f"{kernel}-encoder", "dpok", sections=sections))
        out.append(BenchConfig(f"{kernel}-encoder-cached", "dpok", sections=sections, shared_cache=True))
    for name in divergences:
        out.append(BenchConfig(f"penalty-{name}", "dpok",
                               sections={"divergence": {"penalty": {"name": name}, "alpha": PENALTY_ALPHA}}))
    return out


def select(configs: list[BenchConfig], names: str | None) -> list[BenchConfig]:
    """``names``: comma-separated config names, or ``all`` / ``vs-trl`` / ``features`` / ``penalties``
    groups; ``-name`` removes a configuration selected before it."""
    if not names:
        return configs
    wanted: list[BenchConfig] = []
    for token in (t.strip() for t in names.split(",") if t.strip()):
        if token.startswith("-"):
            wanted = [c for c in wanted if c.name != token[1:]]
            continue
        if token == "all":
            hits = list(configs)
        elif token == "penalties":
            hits = [c for c in configs if c.name.startswith("penalty-")]
        elif token in ("vs-trl", "features"):
            hits = [c for c in configs if c.group == token]
        else:
            hits = [c for c in configs if c.name == token]
        if not hits:
            raise SystemExit(f"--configs: unknown configuration {token!r}; known: "
                             + ", ".join(c.name for c in configs) + ", all, vs-trl, features, penalties")
        wanted.extend(h for h in hits if h not in wanted)
    return wanted
