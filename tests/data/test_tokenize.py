"""tokenize_pairs: exact ids, BOS once, EOS, truncation modes, max_length bounds, prefix-mismatch warning."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest
from data_helpers import WORDS, merging_tokenizer, word_tokenizer
from hypothesis import given
from hypothesis import strategies as st

from dpok_framework.config.data import DataConfig
from dpok_framework.data import TokenizationWarning, load_pairs_from, tokenize_pairs
from dpok_framework.errors import DataError

ID = {w: i + 4 for i, w in enumerate(WORDS)}  # word ids in data_helpers.word_tokenizer
BOS, EOS = 1, 2


def _one(prompt, chosen, rejected, tok=None, **cfg):
    ds = load_pairs_from([{"prompt": prompt, "chosen": chosen, "rejected": rejected}]).train
    return tokenize_pairs(ds, tok or word_tokenizer(), DataConfig(**cfg) if cfg else None)[0]


def test_exact_ids_with_bos_and_eos():
    ex = _one("hello how are you", " fine thanks", " bad")
    assert ex["prompt_input_ids"] == [BOS, ID["hello"], ID["how"], ID["are"], ID["you"]]
    assert ex["chosen_input_ids"] == [ID["fine"], ID["thanks"], EOS]
    assert ex["rejected_input_ids"] == [ID["bad"], EOS]
    assert (ex["prompt"], ex["chosen"], ex["row"]) == ("hello how are you", " fine thanks", 0)


def test_bos_added_once_even_if_prompt_text_has_it():
    ex = _one("<s> hello", " good", " bad")
    assert ex["prompt_input_ids"] == [BOS, ID["hello"]]


def test_no_bos_no_eos_tokenizer():
    ex = _one("hello", " good", " bad", tok=word_tokenizer(bos=False, eos=False))
    assert ex["prompt_input_ids"] == [ID["hello"]]
    assert ex["chosen_input_ids"] == [ID["good"]] and ex["rejected_input_ids"] == [ID["bad"]]


def test_eos_not_doubled_when_completion_ends_with_it():
    ex = _one("hello", " good </s>", " bad")
    assert ex["chosen_input_ids"] == [ID["good"], EOS]


def test_eos_not_appended_after_a_template_end_of_turn():
    tok = merging_tokenizer()  # EOS "</s>" = 1, "\n" = 6
    rows = [{"prompt": "c", "chosen": "b</s>\n", "rejected": "b\n"}]
    ex = tokenize_pairs(load_pairs_from(rows).train, tok, DataConfig(max_length=16, max_prompt_length=8))[0]
    assert ex["chosen_input_ids"] == [3, 1, 6]  # the turn already ended: kept as rendered
    assert ex["rejected_input_ids"] == [3, 6, 1]


def test_truncation_keep_end_keeps_bos_and_last_prompt_tokens():
    words = "hello how are you the world"  # 6 words + BOS = 7 prompt tokens
    ex = _one(words, " fine thanks good", " bad", max_length=6, max_prompt_length=4, truncation_mode="keep_end")
    assert ex["prompt_input_ids"] == [BOS, ID["you"], ID["the"], ID["world"]]
    assert ex["chosen_input_ids"] == [ID["fine"], ID["thanks"]]  # 6 - 4 = 2 tokens, EOS cut
    assert ex["rejected_input_ids"] == [ID["bad"], EOS]


def test_truncation_keep_start_keeps_first_prompt_tokens():
    ex = _one("hello how are you the world", " fine", " bad", max_length=6, max_prompt_length=4,
              truncation_mode="keep_start")
    assert ex["prompt_input_ids"] == [BOS, ID["hello"], ID["how"], ID["are"]]
    assert ex["chosen_input_ids"] == [ID["fine"], EOS]


def test_prompt_limit_without_max_prompt_length_leaves_one_completion_token():
    cfg = SimpleNamespace(max_length=3, max_prompt_length=None, truncation_mode="keep_end")
    ds = load_pairs_from([{"prompt": "hello how are you", "chosen": " good", "rejected": " bad"}]).train
    ex = tokenize_pairs(ds, word_tokenizer(), cfg)[0]
    assert ex["prompt_input_ids"] == [BOS, ID["you"]] and ex["chosen_input_ids"] == [ID["good"]]


text = st.lists(st.sampled_from(["hello", "world", "how", "are", "you", "fine", "the", "a"]), min_size=1,
                max_size=12).map(" ".join)


@given(prompt=text, chosen=text, rejected=text, max_length=st.integers(2, 20), frac=st.floats(0.05, 0.95),
       mode=st.sampled_from(["keep_end", "keep_start"]), bos=st.booleans())
def test_max_length_bounds_and_untruncated_ids_match_joint_tokenisation(prompt, chosen, rejected, max_length, frac,
                                                                         mode, bos):
    if chosen == rejected:
        rejected = rejected + " no"
    tok = word_tokenizer(bos=bos)
    max_prompt = max(1, min(max_length - 1, int(frac * max_length)))
    cfg = DataConfig(max_length=max_length, max_prompt_length=max_prompt, truncation_mode=mode)
    ds = load_pairs_from([{"prompt": prompt, "chosen": " " + chosen, "rejected": " " + rejected}]).train
    ex = tokenize_pairs(ds, tok, cfg)[0]
    p = ex["prompt_input_ids"]
    assert 1 <= len(p) <= max_prompt
    if bos:
        assert p[0] == BOS and BOS not in p[1:]
    for key, completion in (("chosen", chosen), ("rejected", rejected)):
        c = ex[f"{key}_input_ids"]
        assert 1 <= len(c) and len(p) + len(c) <= max_length
        full = tok(prompt + " " + completion)["input_ids"] + [EOS]
        if len(full) <= max_length and len(tok(prompt)["input_ids"]) <= max_prompt:
            assert p + c == full  # nothing truncated: exactly the joint tokenisation


def test_prefix_mismatch_warns_once_naming_rows_and_uses_separate_ids():
    tok = merging_tokenizer()  # "a" + "b" tokenises jointly as "ab"
    rows = [{"prompt": "c", "chosen": "a", "rejected": "c"}, {"prompt": "a", "chosen": "b", "rejected": "c"},
            {"prompt": "ca", "chosen": "b", "rejected": "bc"}]
    ds = load_pairs_from(rows).train
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = tokenize_pairs(ds, tok, DataConfig(max_length=16, max_prompt_length=8))
    msgs = [str(w.message) for w in caught if issubclass(w.category, TokenizationWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("2 of 3 row(s) (rows 1, 2)")
    assert out[1]["prompt_input_ids"] == [2] and out[1]["chosen_input_ids"] == [3, 1]  # "b" alone + EOS
    assert out[1]["rejected_input_ids"] == [4, 1]
    assert out[0]["chosen_input_ids"] == [2, 1]  # "c"+"a": no merge, joint ids used


def test_errors_for_bad_input():
    ds = load_pairs_from([{"prompt": "hello", "chosen": " good", "rejected": " bad"}]).train
    with pytest.raises(DataError, match="missing \\['rejected'\\]"):
        tokenize_pairs(ds.remove_columns("rejected"), word_tokenizer(), DataConfig())
    with pytest.raises(DataError, match="truncation_mode must be one of"):
        tokenize_pairs(ds, word_tokenizer(),
                       SimpleNamespace(max_length=8, max_prompt_length=4, truncation_mode="middle"))
    with pytest.raises(DataError, match="max_length must be at least 2"):
        tokenize_pairs(ds, word_tokenizer(),
                       SimpleNamespace(max_length=1, max_prompt_length=None, truncation_mode="keep_end"))
