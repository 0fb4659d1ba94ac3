"""Real files: HH-RLHF harmless-base (implicit), the LLaMA-Factory DPO demo, the bundled default subset."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from data_helpers import word_tokenizer

from dpok_framework.config.data import DataConfig
from dpok_framework.data import bundled_dataset_path, load_pairs, load_pairs_from
from dpok_framework.errors import DataError

SHARED = Path("/work/shared/data")
HH = SHARED / "hh-rlhf-harmless-base" / "pairs.jsonl.gz"
LF = SHARED / "llamafactory-dpo-en-demo" / "dpo_en_demo.json"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared data directory not present")


@needs_shared
def test_implicit_split_on_real_hh_rows():
    raw = [json.loads(line) for _, line in zip(range(201), gzip.open(HH, "rt", encoding="utf-8"))]
    with pytest.raises(DataError, match=r"^pairs\.jsonl\.gz row 86: field 'chosen' is empty"):
        load_pairs_from(HH)  # a real HH row whose chosen answer is blank
    s = load_pairs_from(HH, max_samples=200, on_invalid="skip")
    ds = s.train
    assert len(ds) == 200 and s.skipped == 1 and ds["row"][-1] == 200
    for ex in ds:
        rec = raw[ex["row"]]
        assert ex["prompt"] + ex["chosen"] == rec["chosen"]
        assert ex["prompt"] + ex["rejected"] == rec["rejected"]
        assert ex["prompt"].startswith("\n\nHuman:") and ex["prompt"].endswith("\n\nAssistant:")
        # the prompt is the longest such prefix: the completions share no further assistant boundary
        tail_c, tail_r = ex["chosen"], ex["rejected"]
        shared = 0
        while shared < min(len(tail_c), len(tail_r)) and tail_c[shared] == tail_r[shared]:
            shared += 1
        assert "\n\nAssistant:" not in tail_c[:shared]
    # multi-turn rows keep all earlier turns in the prompt
    assert any(ex["prompt"].count("\n\nHuman:") > 1 for ex in ds)


@needs_shared
def test_llamafactory_demo_file_converts():
    tok = word_tokenizer()
    raw = json.loads(LF.read_text())
    s = load_pairs_from(LF, tokenizer=tok)
    assert s.format == "llamafactory" and s.skipped == 0 and len(s.train) == len(raw) == 300
    for i in (0, 114, 299):
        rec, ex = raw[i], s.train[i]
        roles = {"human": "user", "gpt": "assistant", "system": "system"}
        msgs = [{"role": roles[t["from"]], "content": t["value"]} for t in rec["conversations"]]
        assert ex["prompt"] == tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        assert ex["chosen"] == f" {rec['chosen']['value']} </s> "
        assert ex["rejected"] == f" {rec['rejected']['value']} </s> "
    system_rows = [ex for ex, rec in zip(s.train, raw) if rec["conversations"][0]["from"] == "system"]
    assert len(system_rows) == 80 and all(ex["prompt"].startswith("<|system|>") for ex in system_rows)


def test_bundled_default_dataset_and_seeded_split():
    path = bundled_dataset_path()
    assert (path.parent / "LICENSE").is_file() and (path.parent / "README.md").is_file()
    assert "MIT License" in (path.parent / "LICENSE").read_text()
    a = load_pairs(DataConfig())
    b = load_pairs(DataConfig())
    c = load_pairs(DataConfig(seed=1))
    assert a.format == "implicit" and a.skipped == 0
    assert len(a.train) == 360 and len(a.eval) == 40
    assert a.eval["row"][:] == b.eval["row"][:] != c.eval["row"][:]
    rows = a.train["row"][:] + a.eval["row"][:]
    assert sorted(rows) == list(range(400))
    assert a.train["row"][:] == sorted(a.train["row"][:])  # source order kept
    assert max(len(x) for x in a.train["prompt"]) < 500
    # data.format describes user files; the bundled subset is always read as implicit
    assert load_pairs(DataConfig(format="standard", max_samples=10)).format == "implicit"


def test_load_pairs_eval_file_max_samples_and_no_eval(tmp_path):
    from data_helpers import STANDARD, write_jsonl
    train = write_jsonl(tmp_path / "train.jsonl", STANDARD * 4)
    ev = write_jsonl(tmp_path / "eval.jsonl", STANDARD)
    s = load_pairs(DataConfig(train=str(train), eval=str(ev), max_samples=5))
    assert (len(s.train), len(s.eval)) == (5, 3) and s.eval["row"][:] == [0, 1, 2]
    s = load_pairs(DataConfig(train=str(train), eval_fraction=0.0))
    assert len(s.train) == 12 and s.eval is None
    s = load_pairs(DataConfig(train=str(train), eval_fraction=0.25, max_samples=8))
    assert (len(s.train), len(s.eval)) == (6, 2)
    with pytest.raises(DataError, match="cannot split eval_fraction=0.5 off 1 pair"):
        load_pairs(DataConfig(train=str(train), eval_fraction=0.5, max_samples=1))
