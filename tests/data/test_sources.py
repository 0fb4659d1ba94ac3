"""In-memory and directory sources (the Python API's train_dataset / eval_dataset) give the same pairs as files."""

from __future__ import annotations

import datasets
import pytest

from dpok_framework.config import config_from_dict
from dpok_framework.config.data import DataConfig
from dpok_framework.data import load_pairs, load_pairs_from
from dpok_framework.errors import ConfigError, DataError

from data_helpers import STANDARD, word_tokenizer, write_jsonl

MORE = STANDARD + [{"prompt": "how are you", "chosen": " good", "rejected": " bad"},
                   {"prompt": "is the world good", "chosen": " yes", "rejected": " no"}]
CONV = [{"prompt": [{"role": "user", "content": "hello"}], "chosen": [{"role": "assistant", "content": "fine"}],
         "rejected": [{"role": "assistant", "content": "bad"}]},
        {"prompt": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "how are you"}],
         "chosen": [{"role": "assistant", "content": "good thanks"}],
         "rejected": [{"role": "assistant", "content": "no"}]}]


@pytest.fixture(autouse=True)
def _quiet_datasets():
    datasets.disable_progress_bars()
    yield
    datasets.enable_progress_bars()


def _rows(ds):
    return [(r["prompt"], r["chosen"], r["rejected"], r["row"]) for r in ds]


def _saved(path, obj):
    obj.save_to_disk(str(path))
    return path


SOURCES = {
    "list": lambda tmp: list(MORE),
    "tuple": lambda tmp: tuple(MORE),
    "Dataset": lambda tmp: datasets.Dataset.from_list(MORE),
    "DatasetDict split": lambda tmp: datasets.DatasetDict(train=datasets.Dataset.from_list(MORE))["train"],
    "DatasetDict (only split)": lambda tmp: datasets.DatasetDict(train=datasets.Dataset.from_list(MORE)),
    "save_to_disk Dataset": lambda tmp: _saved(tmp / "ds", datasets.Dataset.from_list(MORE)),
    "save_to_disk DatasetDict (str)": lambda tmp: str(_saved(tmp / "dd", datasets.DatasetDict(
        train=datasets.Dataset.from_list(MORE)))),
}


@pytest.mark.parametrize("kind", list(SOURCES))
def test_every_source_kind_gives_the_pairs_of_the_jsonl_file(tmp_path, kind):
    expected = _rows(load_pairs_from(write_jsonl(tmp_path / "pairs.jsonl", MORE)).train)
    assert _rows(load_pairs_from(SOURCES[kind](tmp_path)).train) == expected


@pytest.mark.parametrize("kind", ["list", "Dataset", "save_to_disk Dataset"])
def test_train_dataset_is_split_like_the_same_file(tmp_path, kind):
    cfg = DataConfig(train=str(write_jsonl(tmp_path / "pairs.jsonl", MORE)), eval_fraction=0.4, seed=3)
    from_file = load_pairs(cfg)
    in_memory = load_pairs(cfg.model_copy(update={"train": None}), train_dataset=SOURCES[kind](tmp_path))
    assert _rows(in_memory.train) == _rows(from_file.train) and _rows(in_memory.eval) == _rows(from_file.eval)
    assert in_memory.format == "standard" and len(in_memory.eval) == 2


def test_conversational_rows_survive_arrow_and_render_like_the_list(tok):
    ds = datasets.Dataset.from_list(CONV)  # Arrow stores the messages as lists of structs
    assert _rows(load_pairs_from(ds, tokenizer=tok).train) == _rows(load_pairs_from(CONV, tokenizer=tok).train)


def test_eval_dataset_replaces_the_split_and_a_datasetdict_split_is_chosen_by_name(tmp_path):
    dd = datasets.DatasetDict(train=datasets.Dataset.from_list(MORE), test=datasets.Dataset.from_list(STANDARD[:2]))
    cfg = DataConfig(eval_fraction=0.5, train_split="train", eval_split="test")
    s = load_pairs(cfg, train_dataset=dd, eval_dataset=dd)
    assert len(s.train) == len(MORE) and _rows(s.eval) == _rows(load_pairs_from(STANDARD[:2]).train)
    # the same from a save_to_disk directory named in the config
    path = _saved(tmp_path / "hh", dd)
    t = load_pairs(cfg.model_copy(update={"train": str(path), "eval": str(path)}))
    assert _rows(t.train) == _rows(s.train) and _rows(t.eval) == _rows(s.eval)


def test_datasetdict_split_errors_list_the_splits(tmp_path):
    dd = datasets.DatasetDict(train=datasets.Dataset.from_list(MORE), test=datasets.Dataset.from_list(MORE))
    with pytest.raises(DataError, match=r"train_dataset: a DatasetDict with splits \['test', 'train'\]; choose one "
                                        r"with data.train_split"):
        load_pairs(DataConfig(), train_dataset=dd)
    with pytest.raises(DataError, match=r"eval_dataset: no split 'validation' \(data.eval_split\); available: "
                                        r"\['test', 'train'\]"):
        load_pairs(DataConfig(train_split="train", eval_split="validation"), train_dataset=dd, eval_dataset=dd)
    with pytest.raises(DataError, match=r"dd: a DatasetDict with splits"):
        load_pairs_from(_saved(tmp_path / "dd", dd))


def test_a_file_and_an_in_memory_dataset_for_the_same_part_is_an_error_naming_both(tmp_path):
    path = str(write_jsonl(tmp_path / "pairs.jsonl", MORE))
    with pytest.raises(ConfigError, match=r"data.train is '.*pairs.jsonl' and train_dataset was passed too"):
        load_pairs(DataConfig(train=path), train_dataset=MORE)
    with pytest.raises(ConfigError, match=r"data.eval is '.*pairs.jsonl' and eval_dataset was passed too"):
        load_pairs(DataConfig(eval=path), train_dataset=MORE, eval_dataset=MORE)


def test_a_config_without_data_train_validates_and_trains_on_the_given_dataset():
    cfg = config_from_dict({"data": {"eval_fraction": 0}})
    assert cfg.data.train is None
    s = load_pairs(cfg.data, train_dataset=datasets.Dataset.from_list(MORE))
    assert _rows(s.train) == _rows(load_pairs_from(MORE).train) and s.eval is None
    assert len(load_pairs(cfg.data).train) == 400  # nothing given at all: the bundled subset, as before


def test_in_memory_row_errors_name_the_source_row_and_field():
    bad = [dict(r) for r in MORE]
    bad[3]["chosen"] = 7
    with pytest.raises(DataError, match=r"^train_dataset row 3: field 'chosen' must be a string, got int"):
        load_pairs(DataConfig(), train_dataset=bad)
    bad[3]["chosen"] = "   "  # Arrow needs one type per column: a blank answer instead
    with pytest.raises(DataError, match=r"^eval_dataset row 3: field 'chosen' is empty"):
        load_pairs(DataConfig(), train_dataset=MORE, eval_dataset=datasets.Dataset.from_list(bad))
    dd = datasets.DatasetDict(test=datasets.Dataset.from_list(bad))
    s = load_pairs(DataConfig(on_invalid="skip", eval_fraction=0), train_dataset=dd)
    assert s.skipped == 1 and s.skip_reasons == ["train_dataset['test'] row 3: field 'chosen' is empty"]
    assert s.train["row"] == [0, 1, 2, 4]


def test_max_samples_and_empty_sources():
    assert load_pairs(DataConfig(max_samples=2, eval_fraction=0), train_dataset=MORE).train["row"] == [0, 1]
    with pytest.raises(DataError, match=r"^train_dataset: no preference pairs \(the source is empty\)"):
        load_pairs(DataConfig(), train_dataset=datasets.Dataset.from_list([]))


def test_unsupported_sources_say_what_is_accepted(tmp_path):
    with pytest.raises(DataError, match=r"train_dataset: cannot load preference pairs from dict; pass a "
                                        r"JSON/JSONL.*save_to_disk directory.*list of dicts"):
        load_pairs(DataConfig(), train_dataset={"prompt": ["a"], "chosen": ["b"], "rejected": ["c"]})
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match=r"plain: a data directory must be written by datasets' save_to_disk"):
        load_pairs_from(tmp_path / "plain")


def test_in_memory_conversational_rows_need_a_chat_template_like_files():
    with pytest.raises(DataError, match="chat template"):
        load_pairs(DataConfig(), word_tokenizer(chat=False), train_dataset=CONV)
