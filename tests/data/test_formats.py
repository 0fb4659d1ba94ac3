"""Parsing of each format from small hand-made files, auto detection and file types."""

from __future__ import annotations

import json

import pytest

from dpok_framework.data import load_pairs_from
from dpok_framework.data.formats import detect_format
from dpok_framework.errors import DataError

from data_helpers import STANDARD, word_tokenizer, write_jsonl


def _rows(ds):
    return [(r["prompt"], r["chosen"], r["rejected"], r["row"]) for r in ds]


def test_standard_jsonl_columns_and_rows(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [dict(r, extra=1) for r in STANDARD])
    splits = load_pairs_from(path)
    assert splits.format == "standard" and splits.skipped == 0 and splits.eval is None
    assert splits.train.column_names == ["prompt", "chosen", "rejected", "row"]
    assert _rows(splits.train) == [(r["prompt"], r["chosen"], r["rejected"], i) for i, r in enumerate(STANDARD)]


@pytest.mark.parametrize("suffix", ["json", "jsonl", "jsonl.gz", "parquet"])
def test_every_file_type_gives_the_same_pairs(tmp_path, suffix):
    path = tmp_path / f"pairs.{suffix}"
    if suffix == "json":
        path.write_text(json.dumps(STANDARD))
    elif suffix == "parquet":
        import datasets
        datasets.Dataset.from_list(STANDARD).to_parquet(str(path))
    else:
        write_jsonl(path, STANDARD, gz=suffix.endswith(".gz"))
    assert _rows(load_pairs_from(path).train) == _rows(load_pairs_from(STANDARD).train)


def test_jsonl_rows_skip_blank_lines_and_bad_json_names_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(STANDARD[0]) + "\n\n" + json.dumps(STANDARD[1]) + "\n{oops\n")
    with pytest.raises(DataError, match=r"t\.jsonl row 2: line 4: invalid JSON"):
        load_pairs_from(path)
    path.write_text(json.dumps(STANDARD[0]) + "\n\n" + json.dumps(STANDARD[1]) + "\n")
    assert load_pairs_from(path).train["row"][:] == [0, 1]


def test_unsupported_and_missing_files(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unsupported file type"):
        load_pairs_from(tmp_path / "x.csv")
    with pytest.raises(DataError, match="data file not found"):
        load_pairs_from(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(DataError, match="empty.jsonl: no preference pairs"):
        load_pairs_from(tmp_path / "empty.jsonl")


def test_conversational_rendered_with_chat_template():
    tok = word_tokenizer()
    rec = {"prompt": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "hello"}],
           "chosen": [{"role": "assistant", "content": "good"}],
           "rejected": [{"role": "assistant", "content": "bad"}]}
    ds = load_pairs_from([rec], tokenizer=tok).train
    assert ds[0]["prompt"] == "<|system|> be nice </s> <|user|> hello </s> <|assistant|>"
    assert ds[0]["chosen"] == "<|assistant|> good </s> "[len("<|assistant|>"):]
    assert ds[0]["rejected"] == " bad </s> "
    full = tok.apply_chat_template(rec["prompt"] + rec["chosen"], tokenize=False)
    assert ds[0]["prompt"] + ds[0]["chosen"] == full


def test_conversational_continuation_prompt_ending_with_assistant():
    tok = word_tokenizer()
    rec = {"prompt": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "the"}],
           "chosen": [{"role": "assistant", "content": "good"}], "rejected": [{"role": "assistant", "content": "bad"}]}
    ds = load_pairs_from([rec], tokenizer=tok).train
    # a prompt ending with an assistant turn is continued: no generation prompt, no closing </s>
    assert ds[0]["prompt"] == "<|user|> hello </s> <|assistant|> the"
    full = tok.apply_chat_template(rec["prompt"] + rec["chosen"], tokenize=False)
    assert ds[0]["prompt"] + ds[0]["chosen"] == full


def test_conversational_template_that_rewrites_the_prompt_is_reported():
    tok = word_tokenizer()
    # a template that renders the last user turn differently once an answer follows (not prefix-stable)
    tok.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }}"
                         "{% if loop.last and m['role'] == 'user' %} yes{% endif %} </s> {% endfor %}"
                         "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    rec = {"prompt": [{"role": "user", "content": "hello"}], "chosen": [{"role": "assistant", "content": "good"}],
           "rejected": [{"role": "assistant", "content": "bad"}]}
    with pytest.raises(DataError, match=r"<list> row 0: field 'chosen' cannot be split off the prompt"):
        load_pairs_from([rec], tokenizer=tok)


def test_conversational_needs_a_chat_template():
    rec = {"prompt": [{"role": "user", "content": "hello"}], "chosen": [{"role": "assistant", "content": "a"}],
           "rejected": [{"role": "assistant", "content": "b"}]}
    with pytest.raises(DataError, match="no tokenizer was given"):
        load_pairs_from([rec])
    with pytest.raises(DataError, match="needs a chat template"):
        load_pairs_from([rec], tokenizer=word_tokenizer(chat=False))


def test_implicit_strings_split_at_last_assistant_boundary():
    chosen = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how are you\n\nAssistant: I am fine"
    rejected = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how are you\n\nAssistant: I am bad"
    ds = load_pairs_from([{"chosen": chosen, "rejected": rejected}]).train
    assert ds[0]["prompt"] == "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how are you\n\nAssistant:"
    assert (ds[0]["chosen"], ds[0]["rejected"]) == (" I am fine", " I am bad")


def test_implicit_without_shared_prompt_is_an_error():
    with pytest.raises(DataError, match=r"<list> row 0: field 'chosen' has no shared prompt"):
        load_pairs_from([{"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: b\n\nAssistant: y"}],
                        format="implicit")


def test_implicit_message_lists_split_at_first_difference():
    tok = word_tokenizer()
    u = {"role": "user", "content": "hello"}
    ds = load_pairs_from([{"chosen": [u, {"role": "assistant", "content": "good"}],
                           "rejected": [u, {"role": "assistant", "content": "bad"}]}], tokenizer=tok).train
    assert ds[0]["prompt"] == "<|user|> hello </s> <|assistant|>"
    assert (ds[0]["chosen"], ds[0]["rejected"]) == (" good </s> ", " bad </s> ")


def test_llamafactory_sharegpt_and_alpaca(tmp_path):
    tok = word_tokenizer()
    sharegpt = {"conversations": [{"from": "system", "value": "be nice"}, {"from": "human", "value": "hello"}],
                "chosen": {"from": "gpt", "value": "good"}, "rejected": {"from": "gpt", "value": "bad"}}
    alpaca = {"instruction": "hello", "input": "world", "chosen": "good", "rejected": "bad", "system": "be nice"}
    path = tmp_path / "lf.json"
    path.write_text(json.dumps([sharegpt]))
    a = load_pairs_from(path, tokenizer=tok)
    b = load_pairs_from([alpaca], tokenizer=tok)
    assert a.format == b.format == "llamafactory"
    assert a.train[0]["prompt"] == "<|system|> be nice </s> <|user|> hello </s> <|assistant|>"
    assert b.train[0]["prompt"] == "<|system|> be nice </s> <|user|> hello\nworld </s> <|assistant|>"
    assert a.train[0]["chosen"] == b.train[0]["chosen"] == " good </s> "


@pytest.mark.parametrize("record,fmt", [
    ({"prompt": "p", "chosen": "c", "rejected": "r"}, "standard"),
    ({"prompt": [], "chosen": [], "rejected": []}, "conversational"),
    ({"chosen": "c", "rejected": "r"}, "implicit"),
    ({"conversations": [], "chosen": {}, "rejected": {}}, "llamafactory"),
    ({"instruction": "i", "chosen": "c", "rejected": "r"}, "llamafactory"),
])
def test_detect_format(record, fmt):
    assert detect_format(record, "f") == fmt


def test_detect_format_unknown_columns_lists_them():
    with pytest.raises(DataError, match=r"f: cannot detect the data format from the columns \['answer', 'question'\]"):
        detect_format({"question": "q", "answer": "a"}, "f")


def test_explicit_format_overrides_detection():
    with pytest.raises(DataError, match="field 'prompt' must be a list of {role, content} messages, got str"):
        load_pairs_from(STANDARD, format="conversational", tokenizer=word_tokenizer())


def test_max_samples_stops_after_valid_rows():
    data = [{"prompt": "p", "chosen": "", "rejected": "r"}] + STANDARD
    s = load_pairs_from(data, on_invalid="skip", max_samples=2)
    assert s.train["row"][:] == [1, 2] and s.skipped == 1


def test_dataset_source_and_name_label():
    import datasets
    s = load_pairs_from(datasets.Dataset.from_list(STANDARD))
    assert len(s.train) == 3
    with pytest.raises(DataError, match=r"^mine row 1: field 'chosen' is missing"):
        load_pairs_from([STANDARD[0], {"prompt": "p", "rejected": "r"}], name="mine")
