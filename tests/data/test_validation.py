"""Every malformed-row error names file, row and field; skip mode drops and reports such rows."""

from __future__ import annotations

import logging

import pytest
from data_helpers import STANDARD, word_tokenizer, write_jsonl

from dpok_framework.data import load_pairs_from
from dpok_framework.errors import DataError

GOOD = STANDARD[0]
MSG = [{"role": "user", "content": "hello"}]
ANS = [{"role": "assistant", "content": "good"}]


@pytest.mark.parametrize("bad,expected", [
    ({"prompt": "p", "rejected": "r"}, "field 'chosen' is missing"),
    ({"prompt": "p", "chosen": "c"}, "field 'rejected' is missing"),
    ({"chosen": "c", "rejected": "r"}, "field 'prompt' is missing"),
    ({"prompt": "p", "chosen": "", "rejected": "r"}, "field 'chosen' is empty"),
    ({"prompt": "p", "chosen": "c", "rejected": "  \n"}, "field 'rejected' is empty"),
    ({"prompt": "", "chosen": "c", "rejected": "r"}, "field 'prompt' is empty"),
    ({"prompt": "p", "chosen": "same", "rejected": "same"}, "field 'rejected' is identical to 'chosen'"),
    ({"prompt": "p", "chosen": 3, "rejected": "r"}, "field 'chosen' must be a string, got int"),
    ({"prompt": ["p"], "chosen": "c", "rejected": "r"}, "field 'prompt' must be a string, got list"),
    ({"prompt": "p", "chosen": None, "rejected": "r"}, "field 'chosen' is null"),
])
def test_standard_row_errors_name_file_row_field(tmp_path, bad, expected):
    path = write_jsonl(tmp_path / "train.jsonl", [GOOD, GOOD, bad])
    with pytest.raises(DataError) as err:
        load_pairs_from(path, format="standard")
    assert str(err.value).startswith(f"train.jsonl row 2: {expected}")
    assert "on_invalid: skip" in str(err.value)


@pytest.mark.parametrize("bad,expected", [
    ({"prompt": MSG, "chosen": [], "rejected": ANS}, "field 'chosen' is empty"),
    ({"prompt": MSG, "chosen": ANS, "rejected": ANS}, "field 'rejected' is identical to 'chosen'"),
    ({"prompt": MSG, "chosen": "good", "rejected": ANS},
     "field 'chosen' must be a list of {role, content} messages, got str"),
    ({"prompt": MSG, "chosen": [{"role": "assistant"}], "rejected": ANS}, "field 'chosen' message 0 has no 'content'"),
    ({"prompt": [{"role": "user", "content": 1}], "chosen": ANS, "rejected": [{"role": "assistant", "content": "bad"}]},
     "field 'prompt' message 0 'content' must be a string, got int"),
    ({"prompt": MSG, "chosen": [{"role": "assistant", "content": "  "}], "rejected": ANS}, "field 'chosen' is empty"),
])
def test_conversational_row_errors(tmp_path, bad, expected):
    good = {"prompt": MSG, "chosen": ANS, "rejected": [{"role": "assistant", "content": "bad"}]}
    path = write_jsonl(tmp_path / "conv.jsonl", [good, bad])
    with pytest.raises(DataError) as err:
        load_pairs_from(path, tokenizer=word_tokenizer())
    assert str(err.value).startswith(f"conv.jsonl row 1: {expected}")


@pytest.mark.parametrize("bad,expected", [
    ({"conversations": [{"from": "human", "value": "hi"}], "chosen": {"from": "gpt", "value": ""},
      "rejected": {"from": "gpt", "value": "x"}}, "field 'chosen' is empty"),
    ({"conversations": [{"from": "alien", "value": "hi"}], "chosen": {"from": "gpt", "value": "y"},
      "rejected": {"from": "gpt", "value": "x"}}, "field 'conversations' turn 0 has role 'alien'"),
    ({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}],
      "chosen": {"from": "gpt", "value": "y"}, "rejected": {"from": "gpt", "value": "x"}},
     "field 'conversations' must end with a 'human' turn"),
    ({"conversations": [], "chosen": {"from": "gpt", "value": "y"}, "rejected": {"from": "gpt", "value": "x"}},
     "field 'conversations' is empty"),
    ({"conversations": [{"from": "human", "value": "hi"}], "chosen": {"from": "gpt", "value": "y"},
      "rejected": {"from": "gpt", "value": "y"}}, "field 'rejected' is identical to 'chosen'"),
    ({"conversations": [{"from": "human", "value": "hi"}], "chosen": {"from": "gpt", "value": 5},
      "rejected": {"from": "gpt", "value": "y"}}, "field 'chosen' 'value' must be a string, got int"),
])
def test_llamafactory_row_errors(tmp_path, bad, expected):
    good = {"conversations": [{"from": "human", "value": "hi"}], "chosen": {"from": "gpt", "value": "a"},
            "rejected": {"from": "gpt", "value": "b"}}
    path = tmp_path / "lf.json"
    import json
    path.write_text(json.dumps([good, bad]))
    with pytest.raises(DataError) as err:
        load_pairs_from(path, tokenizer=word_tokenizer())
    assert str(err.value).startswith(f"lf.json row 1: {expected}")


@pytest.mark.parametrize("bad,expected", [
    ({"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: a\n\nAssistant: x"},
     "field 'rejected' is identical to 'chosen'"),
    ({"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: a\n\nAssistant:"},
     "field 'rejected' is empty"),
    ({"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": 7}, "field 'rejected' must be a string, got int"),
])
def test_implicit_row_errors(tmp_path, bad, expected):
    good = {"chosen": "\n\nHuman: a\n\nAssistant: x", "rejected": "\n\nHuman: a\n\nAssistant: y"}
    path = write_jsonl(tmp_path / "hh.jsonl.gz", [good, bad], gz=True)
    with pytest.raises(DataError) as err:
        load_pairs_from(path)
    assert str(err.value).startswith(f"hh.jsonl.gz row 1: {expected}")


def test_non_object_row():
    with pytest.raises(DataError, match=r"<list> row 1: .*must be a JSON object, got list"):
        load_pairs_from([GOOD, ["p", "c", "r"]])


def test_skip_mode_counts_and_reports(tmp_path, caplog):
    bad = [{"prompt": "p", "chosen": "", "rejected": "r"}, {"prompt": "p", "chosen": "x", "rejected": "x"},
           {"prompt": "p", "chosen": 1, "rejected": "r"}] * 3
    path = write_jsonl(tmp_path / "train.jsonl", [GOOD] + bad + [STANDARD[1]])
    with caplog.at_level(logging.WARNING, logger="dpok_framework.data"):
        s = load_pairs_from(path, on_invalid="skip")
    assert s.skipped == 9 and len(s.skip_reasons) == 9
    assert s.train["row"][:] == [0, 10]
    assert s.skip_reasons[0].startswith("train.jsonl row 1: field 'chosen' is empty")
    assert s.skip_reasons[2].startswith("train.jsonl row 3: field 'chosen' must be a string")
    text = caplog.text
    assert "train.jsonl: skipped 9 invalid row(s)" in text and "... and 4 more" in text


def test_skip_mode_with_nothing_left_is_an_error():
    with pytest.raises(DataError, match=r"no valid preference pairs left \(all 1 rows were invalid"):
        load_pairs_from([{"prompt": "p", "chosen": "", "rejected": "r"}], on_invalid="skip")


def test_bad_on_invalid_value():
    with pytest.raises(DataError, match="on_invalid must be one of"):
        load_pairs_from(STANDARD, on_invalid="ignore")
