"""Fitting data-dependent kernel hyper-parameters before training (median bandwidth, covariance, ...).

``kernel.fit(E)`` receives ``E [3n, d]``: the prompt, chosen and rejected embeddings of the first
``kernel.fit_samples`` training pairs stacked. With ``policy_hidden`` they come from a no-grad pass of
the *initial* policy (the frozen reference copy when there is one, so a resumed run refits identically);
with a text embedder from the cached text embeddings. If the kernel consumes a covariance and a
``privacy:`` section is set, the covariance is released by the configured privacy wrapper instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from ..config.privacy import build_privacy_wrapper


def policy_hidden_embeddings(model, embedder, batches: Iterable[dict], n_pairs: int, device,
                             autocast: Callable | None = None) -> torch.Tensor:
    """``[n, 3, H]``: pooled prompt, chosen and rejected hidden states of up to ``n_pairs`` pairs."""
    parts: list[torch.Tensor] = []
    seen = 0
    was_training = model.training
    model.eval()
    get_decoder = getattr(model, "get_decoder", None)
    body = get_decoder() if callable(get_decoder) else None
    if body is model or not callable(body):
        body = None
    with torch.no_grad():
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            ctx = autocast() if autocast is not None else torch.autocast("cpu", enabled=False)
            with ctx:
                if body is not None:  # the decoder stack only: no [2B, T, V] logits
                    hidden = body(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                  use_cache=False).last_hidden_state
                else:
                    hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                   output_hidden_states=True, use_cache=False).hidden_states[-1]
            hidden = hidden.float()  # [2B, T, H]
            e_prompt, e_comp = embedder.pool_hidden(hidden, batch["prompt_mask"], batch["completion_mask"])
            B = e_comp.shape[0] // 2
            take = min(B, n_pairs - seen)
            parts.append(torch.stack([e_prompt[:take], e_comp[:take], e_comp[B:B + take]], dim=1))  # [take, 3, H]
            seen += take
            if seen >= n_pairs:
                break
    model.train(was_training)
    return torch.cat(parts).float()  # [n, 3, H]


def text_embeddings_for_fit(table, rows: torch.Tensor) -> torch.Tensor:
    """``[n, 3, d]`` from a :class:`~dpok_framework.engine.embeddings.TextEmbeddingTable`."""
    e_x, e_pos, e_neg = table.lookup(rows)
    return torch.stack([e_x, e_pos, e_neg], dim=1).float()


def release_private_covariance(kernel, embeddings: torch.Tensor, privacy_cfg, registry, out_dir: Path | None
                               ) -> dict[str, Any]:
    """DP release of the embedding covariance (one record = one pair) through the configured wrapper.

    ``embeddings`` ``[n, 3, d]`` (prompt, chosen, rejected per pair). Writes ``privacy.json``.
    """
    wrapper = build_privacy_wrapper(privacy_cfg, num_records=int(embeddings.shape[0]), registry=registry)
    release = wrapper.release_covariance(embeddings)
    mean = None if release.mean is None else torch.as_tensor(release.mean, dtype=torch.float32)
    kernel.set_covariance(torch.as_tensor(release.cov, dtype=torch.float32), mean)
    record = wrapper.to_json()
    if out_dir is not None:
        (Path(out_dir) / "privacy.json").write_text(json.dumps(record, indent=2))
    return record


def fit_kernel(kernel, embeddings: torch.Tensor, privacy_cfg, registry, out_dir: Path | None,
               release: bool = True) -> None:
    """Fit the kernel's data-dependent parameters on ``embeddings`` ``[n, 3, d]`` and, for a covariance
    kernel under a ``privacy:`` section, replace the covariance by the configured DP release.

    ``release=False`` (a resumed run): no second noisy release, which would spend budget for nothing; the
    checkpoint restores the released covariance.
    """
    kernel.to(embeddings.device)
    kernel.fit(embeddings.reshape(-1, embeddings.shape[-1]))  # [3n, d]
    if getattr(kernel, "uses_covariance", False) and privacy_cfg is not None and release:
        release_private_covariance(kernel, embeddings, privacy_cfg, registry, out_dir)
