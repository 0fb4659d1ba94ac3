"""Issue case 6 (and the truncation warning of case 7): bad input files give a clear error naming file,
row (and line) and field, and ``on_invalid: skip`` drops and counts exactly those rows."""

from __future__ import annotations

import gzip
import json
import warnings

import pytest
from click.testing import CliRunner

from dpok_framework.cli.main import cli
from dpok_framework.data import load_pairs_from, tokenize_pairs
from dpok_framework.data.tokenize import TruncationWarning, identical_pairs
from dpok_framework.errors import DataError
from dpok_framework.models.char_tokenizer import char_tokenizer

GOOD = [{"prompt": f"q{i}?", "chosen": "yes", "rejected": "no"} for i in range(4)]


def _jsonl(path, lines: list[bytes]):
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def _line(record) -> bytes:
    return json.dumps(record).encode()


def test_case6_non_utf8_bytes_in_one_row_name_file_row_and_field(tmp_path):
    bad = b'{"prompt": "q?", "chosen": "caf\xe9 ok", "rejected": "no"}'  # latin-1 byte, not UTF-8
    path = _jsonl(tmp_path / "train.jsonl", [_line(GOOD[0]), bad, _line(GOOD[1])])
    with pytest.raises(DataError, match=r"train.jsonl row 1: field 'chosen' holds bytes that are not valid UTF-8 "
                                        r"\(byte 0xe9"):
        load_pairs_from(path)
    out = load_pairs_from(path, on_invalid="skip")
    assert out.skipped == 1 and list(out.train["row"]) == [0, 2]
    assert "train.jsonl row 1: field 'chosen'" in out.skip_reasons[0]


def test_case6_lone_surrogate_escape_is_a_row_error_not_a_pyarrow_traceback(tmp_path):
    bad = b'{"prompt": "q?", "chosen": "x \\ud800 y", "rejected": "no"}'  # valid JSON, invalid Unicode
    path = _jsonl(tmp_path / "train.jsonl", [_line(GOOD[0]), _line(GOOD[1]), bad])
    with pytest.raises(DataError, match=r"train.jsonl row 2: field 'chosen' holds a lone surrogate \\ud800"):
        load_pairs_from(path)
    out = load_pairs_from(path, on_invalid="skip")
    assert out.skipped == 1 and len(out.train) == 2
    # in-memory sources go through the same check
    with pytest.raises(DataError, match=r"<list> row 0: field 'prompt' holds a lone surrogate"):
        load_pairs_from([{"prompt": "a\udfff", "chosen": "y", "rejected": "n"}])


ALTERNATING = ("{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
               "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
               "{% endif %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
               "{% if add_generation_prompt %}[assistant] {% endif %}")


def test_case6_chat_template_that_raises_names_row_and_field(tmp_path):
    tok = char_tokenizer()
    tok.chat_template = ALTERNATING
    ok = {"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "hello"}],
          "rejected": [{"role": "assistant", "content": "go"}]}
    bad = {**ok, "prompt": [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}]}
    path = _jsonl(tmp_path / "conv.jsonl", [_line(ok), _line(bad), _line(ok)])
    with pytest.raises(DataError, match=r"conv.jsonl row 1: field 'prompt' cannot be rendered by the tokenizer's "
                                        r"chat template \(roles user/user\): .*Conversation roles must alternate"):
        load_pairs_from(path, tokenizer=tok)
    out = load_pairs_from(path, tokenizer=tok, on_invalid="skip")
    assert out.skipped == 1 and list(out.train["row"]) == [0, 2]


def test_case6_truncated_jsonl_gz_names_the_file(tmp_path):
    blob = gzip.compress(b"".join(_line(r) + b"\n" for r in GOOD * 50))
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"train.jsonl.gz: the gzip stream is truncated \(after line \d+\)"):
        load_pairs_from(path)


def test_case6_truncated_gz_through_dpok_train_is_not_aborted(tmp_path, monkeypatch):
    blob = gzip.compress(b"".join(_line(r) + b"\n" for r in GOOD * 50))
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(blob[: len(blob) // 2])

    def read_first(self):  # the engine reads the data first: stand in for it without loading a model
        from dpok_framework.data import load_pairs

        load_pairs(self.config.data)

    import dpok_framework.engine as engine_pkg

    monkeypatch.setattr(engine_pkg.Engine, "train", read_first)
    res = CliRunner().invoke(cli, ["train", "--set", f"data.train={path}", "-o", str(tmp_path / "run")])
    assert res.exit_code == 2, res.output
    assert "Aborted" not in res.output and "train.jsonl.gz: the gzip stream is truncated" in res.output


def test_case6_non_gzip_dot_gz_file(tmp_path):
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(b"".join(_line(r) + b"\n" for r in GOOD))  # plain text under a .gz name
    with pytest.raises(DataError, match=r"train.jsonl.gz: not a valid gzip file .*drop the .gz suffix"):
        load_pairs_from(path)
    js = tmp_path / "train.json.gz"
    js.write_bytes(b"[]")
    with pytest.raises(DataError, match="train.json.gz: not a valid gzip file"):
        load_pairs_from(js)


def test_case6_malformed_json_line_is_skipped_and_counted_with_the_right_column(tmp_path):
    path = _jsonl(tmp_path / "train.jsonl", [
        _line(GOOD[0]), b"", b'{"prompt": "caf\xc3\xa9?", "chosen": "y" "rejected": "n"}', _line(GOOD[1])])
    # the parser stops at character 35 of line 3 (the quote where the comma is missing): columns count
    # characters, so the two-byte e-acute counts once (a byte count would say 36)
    with pytest.raises(DataError, match=r"train.jsonl row 1: line 3: invalid JSON: Expecting ',' delimiter at "
                                        r"column 35; fix the row"):
        load_pairs_from(path)
    out = load_pairs_from(path, on_invalid="skip")
    assert out.skipped == 1 and list(out.train["row"]) == [0, 2]
    assert out.skip_reasons == ["train.jsonl row 1: line 3: invalid JSON: Expecting ',' delimiter at column 35"]


def test_case6_a_bad_first_line_under_skip_still_detects_the_format(tmp_path):
    path = _jsonl(tmp_path / "train.jsonl", [b"{not json", _line(GOOD[0]), _line(GOOD[1])])
    out = load_pairs_from(path, on_invalid="skip")
    assert out.format == "standard" and out.skipped == 1 and list(out.train["row"]) == [1, 2]


def test_case6_bom_and_carriage_returns_do_not_break_lines(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _line(GOOD[0]) + b"\r\n" + _line(GOOD[1]) + b"\r\n")
    out = load_pairs_from(path)
    assert len(out.train) == 2 and out.skipped == 0


def test_case7_pairs_identical_after_truncation_are_warned_and_counted():
    tok = char_tokenizer()
    shared = "x" * 40
    splits = load_pairs_from([{"prompt": "q?", "chosen": shared + " good", "rejected": shared + " bad"},
                              {"prompt": "q?", "chosen": "short yes", "rejected": "short no"}])
    cfg = type("D", (), {"max_length": 24, "max_prompt_length": 8, "truncation_mode": "keep_end"})()
    with pytest.warns(TruncationWarning, match=r"1 of 2 pair\(s\) \(rows 0\): chosen and rejected are identical "
                                               r"after truncation to data.max_length=24"):
        ds = tokenize_pairs(splits.train, tok, cfg)
    assert identical_pairs(ds) == [0]
    cfg.max_length = 64
    with warnings.catch_warnings():
        warnings.simplefilter("error", TruncationWarning)
        assert identical_pairs(tokenize_pairs(splits.train, tok, cfg)) == []
