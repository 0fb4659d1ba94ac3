"""The embedder contract: shapes, finiteness and determinism; policy-hidden embedders also ignore positions
outside their masks.  Text embedders are called on three short texts (a text embedder whose model is not
available here is reported as skipped, with the reason)."""

from __future__ import annotations

from typing import Any, Callable

import torch

from .results import violated


class Unavailable(Exception):
    """The component cannot run in this environment (e.g. its model is not installed); the check is skipped."""


def check_pool_hidden(emb, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    b, t, h = 3, 6, 8
    hidden = torch.randn(b, t, h, generator=g)  # [B, T, H]
    prompt = torch.zeros(b, t, dtype=torch.long)
    prompt[:, :2] = 1
    completion = torch.zeros(b, t, dtype=torch.long)
    completion[:, 2:5] = 1  # position 5 is padding
    e_p, e_c = emb.pool_hidden(hidden, prompt, completion)
    for label, e in (("e_prompt", e_p), ("e_completion", e_c)):
        violated(e.dim() == 2 and e.shape[0] == b, "shape", f"{emb.name}: {label} has shape {tuple(e.shape)}, "
                                                           f"expected [{b}, dim]")
        violated(bool(torch.isfinite(e).all()), "finite", f"{emb.name}: non-finite {label}")
    again = emb.pool_hidden(hidden.clone(), prompt, completion)
    violated(all(torch.equal(a, c) for a, c in zip((e_p, e_c), again)), "deterministic",
             f"{emb.name}: pool_hidden gave different outputs for the same input")
    noisy = hidden.clone()
    noisy[:, 5] += 100.0  # outside both masks
    moved = emb.pool_hidden(noisy, prompt, completion)
    diff = max(float((a - c).abs().max()) for a, c in zip((e_p, e_c), moved))
    violated(diff <= 1e-5, "masking", f"{emb.name}: changing a position outside both masks moved the output by {diff:.3g}")


def check_encode_texts(emb) -> None:
    texts = ["a short text", "another one, a little longer than the first", "x"]
    try:
        e = emb.encode_texts(texts)
    except (ImportError, OSError) as exc:
        raise Unavailable(f"{emb.name}: encoder not available here ({type(exc).__name__}: {exc})") from None
    except Exception as exc:
        from ..errors import ConfigError

        if isinstance(exc, ConfigError):
            raise Unavailable(f"{emb.name}: {exc}") from None
        raise
    violated(isinstance(e, torch.Tensor) and e.dim() == 2 and e.shape[0] == len(texts), "shape",
             f"{emb.name}: encode_texts of {len(texts)} texts gave {getattr(e, 'shape', type(e))}, expected [3, dim]")
    violated(bool(torch.isfinite(e).all()), "finite", f"{emb.name}: non-finite embeddings")
    violated(torch.allclose(e, emb.encode_texts(texts), rtol=1e-5, atol=1e-6), "deterministic",
             f"{emb.name}: encode_texts gave different embeddings for the same texts")
    violated(torch.allclose(e[1:2], emb.encode_texts(texts[1:2]), rtol=1e-4, atol=1e-5), "batch_independent",
             f"{emb.name}: a text's embedding depends on the other texts in the batch")


def check_cache_key(emb) -> None:
    key = emb.cache_key()
    violated(isinstance(key, str) and key == emb.cache_key(), "cache_key",
             f"{emb.name}: cache_key() must be a deterministic string, got {key!r}")


Make = Callable[[], Any]

CHECKS = [
    ("cache_key", lambda e: True, lambda make, seed, samples: check_cache_key(make())),
    ("pool_hidden", lambda e: bool(e.uses_policy_hidden),
     lambda make, seed, samples: check_pool_hidden(make(), seed)),
    ("encode_texts", lambda e: not e.uses_policy_hidden, lambda make, seed, samples: check_encode_texts(make())),
]
