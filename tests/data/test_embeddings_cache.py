"""compute_text_embeddings: alignment, dedup, cache hit / miss / invalidation, atomic writes."""

from __future__ import annotations

import torch
import pytest
from data_helpers import STANDARD
from pydantic import Field

from dpok_framework.components import Embedder, Params
from dpok_framework.data import compute_text_embeddings, dataset_fingerprint, load_pairs_from
from dpok_framework.errors import DataError


class CountParams(Params):
    scale: float = Field(1.0)


class CountingEmbedder(Embedder):
    """Deterministic toy encoder: e(t) = scale * (len(t), number of spaces, 1); counts encoded texts."""

    name = "counting"
    Params = CountParams

    def __init__(self, params=None, **kw):
        super().__init__(params, **kw)
        self.calls: list[list[str]] = []

    def encode_texts(self, texts):
        self.calls.append(list(texts))
        return self.params.scale * torch.tensor([[len(t), t.count(" "), 1.0] for t in texts])


def _expected(texts, scale=1.0):
    return scale * torch.tensor([[len(t), t.count(" "), 1.0] for t in texts])


@pytest.fixture
def ds():
    return load_pairs_from(STANDARD + [dict(STANDARD[0], chosen=" good")]).train


def test_aligned_with_dataset_and_texts_encoded_once(ds, tmp_path):
    emb = CountingEmbedder()
    out = compute_text_embeddings(ds, emb, tmp_path)
    assert torch.equal(out.prompt, _expected(ds["prompt"][:]))
    assert torch.equal(out.chosen, _expected(ds["chosen"][:]))
    assert torch.equal(out.rejected, _expected(ds["rejected"][:]))
    all_texts = ds["prompt"][:] + ds["chosen"][:] + ds["rejected"][:]
    assert len(emb.calls) == 1 and sorted(emb.calls[0]) == sorted(set(all_texts))  # duplicates encoded once
    assert not out.cache_hit and out.cache_path.is_file()
    p, c, r = out.take(torch.tensor([3, 1]))
    assert torch.equal(c, _expected([ds[3]["chosen"], ds[1]["chosen"]]))
    assert torch.equal(p, out.prompt[[3, 1]]) and torch.equal(r, out.rejected[[3, 1]])


def test_cache_hit_reuses_file_without_encoding(ds, tmp_path):
    first = compute_text_embeddings(ds, CountingEmbedder(), tmp_path)
    emb = CountingEmbedder()
    second = compute_text_embeddings(ds, emb, tmp_path)
    assert second.cache_hit and emb.calls == [] and second.cache_path == first.cache_path
    assert torch.equal(second.chosen, first.chosen)
    assert list(tmp_path.iterdir()) == [first.cache_path]  # no temp files left behind


def test_cache_invalidated_by_params_and_data(ds, tmp_path):
    base = compute_text_embeddings(ds, CountingEmbedder(), tmp_path)
    scaled = compute_text_embeddings(ds, CountingEmbedder(scale=2.0), tmp_path)
    assert not scaled.cache_hit and scaled.cache_path != base.cache_path
    assert torch.equal(scaled.chosen, 2 * base.chosen)
    other = ds.select([0, 1])
    sub = compute_text_embeddings(other, CountingEmbedder(), tmp_path)
    assert not sub.cache_hit and sub.fingerprint != base.fingerprint
    edited = load_pairs_from(STANDARD + [dict(STANDARD[0], chosen=" yes")]).train
    assert dataset_fingerprint(edited) != dataset_fingerprint(ds)
    assert not compute_text_embeddings(edited, CountingEmbedder(), tmp_path).cache_hit
    assert len(list(tmp_path.glob("text-emb-*.pt"))) == 4


def test_corrupt_cache_is_recomputed(ds, tmp_path):
    path = compute_text_embeddings(ds, CountingEmbedder(), tmp_path).cache_path
    path.write_bytes(b"not a torch file")
    emb = CountingEmbedder()
    with pytest.warns(UserWarning, match="unreadable"):
        out = compute_text_embeddings(ds, emb, tmp_path)
    assert not out.cache_hit and len(emb.calls) == 1
    assert compute_text_embeddings(ds, CountingEmbedder(), tmp_path).cache_hit  # rewritten


def test_no_cache_dir_and_guards(ds):
    out = compute_text_embeddings(ds, CountingEmbedder(), None)
    assert out.cache_path is None and len(out) == len(ds)
    with pytest.raises(DataError, match="row 99 is not in the embedded dataset"):
        out.take([99])

    class Hidden(CountingEmbedder):
        name = "hidden"
        uses_policy_hidden = True

    with pytest.raises(DataError, match="compute_text_embeddings is for frozen text embedders"):
        compute_text_embeddings(ds, Hidden(), None)

    class Broken(CountingEmbedder):
        def encode_texts(self, texts):
            return torch.zeros(1, 3)

    with pytest.raises(DataError, match="encode_texts returned \\(1, 3\\)"):
        compute_text_embeddings(ds, Broken(), None)
