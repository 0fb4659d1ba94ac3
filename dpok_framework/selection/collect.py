"""Building selection evidence from preference pairs: embeddings (kernels) and the reference model's
next-token distributions on chosen vs rejected completions (divergences).

Divergence evidence.  Before training the policy *is* the reference, so D(pi || pi_ref) = 0 and tells
nothing.  We compare the reference's predictive distributions along the two completions instead: for
pair i and completion position t (the first ``positions_per_pair`` aligned positions of y+ and y-),

    p_{i,t} = pi_ref( . | x_i, y+_{i,<t}),     q_{i,t} = pi_ref( . | x_i, y-_{i,<t}).

DPO moves the policy towards the behaviour that produced y+ and away from the one that produced y-,
so the discrepancy between these two distributions is a data-driven proxy for the drift the divergence
will have to measure during training: how far apart they are (drift), whether their effective supports
overlap, how heavy-tailed the token log-ratios are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import DataError, DpokError
from ..objective.kernel_fit import policy_hidden_embeddings


def sample_rows(ds: Any, n: int, seed: int) -> Any:
    """A seeded sample of at most ``n`` rows of a ``datasets.Dataset`` (all rows if it has fewer)."""
    if len(ds) <= n:
        return ds
    return ds.shuffle(seed=seed).select(range(n))


def _device_of(model: Any) -> torch.device:
    return next(model.parameters()).device


def _tokenized(ds: Any, tokenizer: Any, data_config: Any) -> Any:
    if "prompt_input_ids" in ds.column_names:
        return ds
    if tokenizer is None:
        raise DpokError("selection needs a tokenizer to tokenise the pairs (pass --model)")
    from ..data import tokenize_pairs

    return tokenize_pairs(ds, tokenizer, data_config)


def _batches(ds: Any, tokenizer: Any, batch_size: int, completion_limit: int | None = None):
    from ..data import PreferenceCollator

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    collate = PreferenceCollator(int(pad))
    cols = ("prompt_input_ids", "chosen_input_ids", "rejected_input_ids")
    for start in range(0, len(ds), batch_size):
        chunk = ds.select(range(start, min(start + batch_size, len(ds))))
        examples = []
        for ex in chunk.select_columns(list(cols)):
            if completion_limit is not None:  # only the first positions are needed: shorter forwards
                ex = {**ex, "chosen_input_ids": list(ex["chosen_input_ids"])[:completion_limit],
                      "rejected_input_ids": list(ex["rejected_input_ids"])[:completion_limit]}
            examples.append(ex)
        yield collate(examples)


def embed_pairs(ds: Any, embedder: Any, *, model: Any = None, tokenizer: Any = None, data_config: Any = None,
                batch_size: int = 8, cache_dir: str | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(e_x, e_pos, e_neg), each ``[N, d]``, for the pairs of ``ds`` (text columns prompt/chosen/rejected).

    A policy-hidden embedder pools the model's last hidden states (no grad); a frozen text embedder
    encodes the texts (cached under ``cache_dir`` when given).
    """
    if getattr(embedder, "uses_policy_hidden", False):
        if model is None or tokenizer is None:
            raise DpokError(f"embedder {embedder.name!r} pools the policy's hidden states, so selection needs the "
                            f"model: pass --model (or use a text embedder such as sentence_encoder)")
        tok = _tokenized(ds, tokenizer, data_config)
        emb = policy_hidden_embeddings(model, embedder, _batches(tok, tokenizer, batch_size), len(tok),
                                       _device_of(model))  # [N, 3, H]
        emb = emb.detach().cpu().float()
        return emb[:, 0], emb[:, 1], emb[:, 2]
    from ..data import compute_text_embeddings

    te = compute_text_embeddings(ds, embedder, cache_dir)
    return te.prompt, te.chosen, te.rejected


def reference_distributions(model: Any, ds: Any, tokenizer: Any, *, data_config: Any = None,
                            positions_per_pair: int = 8, max_positions: int = 512, batch_size: int = 4
                            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logp, logq, token_embeddings): ``[M, V]`` reference next-token log-distributions at aligned
    completion positions of the chosen (p) and rejected (q) completions (see the module docstring),
    and the model's input-embedding matrix ``[V, H]`` for geometry-aware divergences."""
    tok = _tokenized(ds, tokenizer, data_config)
    device = _device_of(model)
    ps: list[torch.Tensor] = []
    qs: list[torch.Tensor] = []
    total = 0
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for batch in _batches(tok, tokenizer, batch_size, completion_limit=positions_per_pair):
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           use_cache=False).logits  # [2B, T, V]
            cm = batch["completion_mask"][:, 1:].bool()  # [2B, T-1]: the target at t+1 is a completion token
            b_count = logits.shape[0] // 2
            for b in range(b_count):
                ic = cm[b].nonzero().squeeze(-1)[:positions_per_pair]  # [<=k] positions predicting y+ tokens
                ir = cm[b_count + b].nonzero().squeeze(-1)[:positions_per_pair]
                m = min(ic.numel(), ir.numel(), max_positions - total)
                if m <= 0:
                    continue
                ps.append(torch.log_softmax(logits[b, ic[:m]].float(), dim=-1).cpu())  # [m, V]
                qs.append(torch.log_softmax(logits[b_count + b, ir[:m]].float(), dim=-1).cpu())  # [m, V]
                total += m
            if total >= max_positions:
                break
    model.train(was_training)
    if total < 4:
        raise DpokError(f"divergence selection found only {total} aligned completion positions in {len(tok)} "
                        f"pairs; use more pairs (selection.sample_size)")
    emb = model.get_input_embeddings().weight.detach().float().cpu()  # [V', H]
    logp, logq = torch.cat(ps), torch.cat(qs)
    return logp, logq, emb[: logp.shape[1]] if emb.shape[0] >= logp.shape[1] else None


def load_embedding_file(path: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Read precomputed embeddings: a ``.pt`` (dict of tensors) or ``.npz`` with ``e_x``, ``e_pos``,
    ``e_neg`` ``[N, d]`` (optionally ``logp``/``logq`` ``[M, V]`` for divergences).  Returns the three
    matrices and a dict of the optional extras."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"embeddings file not found: {p}")
    if p.suffix == ".npz":
        import numpy as np

        with np.load(p) as blob:
            data = {k: torch.from_numpy(blob[k]) for k in blob.files}
    else:
        try:
            data = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - report any unreadable file the same way
            raise DataError(f"{p}: cannot read embeddings ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise DataError(f"{p}: expected a dict of tensors with keys e_x, e_pos, e_neg, got {type(data).__name__}")
    missing = [k for k in ("e_x", "e_pos", "e_neg") if k not in data]
    if missing:
        raise DataError(f"{p}: missing {missing}; an embeddings file holds e_x, e_pos, e_neg [N, d] "
                        f"(and optionally logp, logq [M, V]); found keys {sorted(data)}")
    extras = {k: data[k] for k in ("logp", "logq") if k in data}
    if len(extras) == 1:
        raise DataError(f"{p}: has {next(iter(extras))} but not its partner: divergence evidence needs both logp "
                        f"and logq")
    return data["e_x"].float(), data["e_pos"].float(), data["e_neg"].float(), extras

