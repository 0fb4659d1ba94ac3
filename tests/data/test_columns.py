"""data.columns: other column names read as prompt/chosen/rejected, for every source, with errors naming them."""

from __future__ import annotations

import datasets
import pytest

from dpok_framework.config import config_from_dict, load_config
from dpok_framework.config.data import DataConfig
from dpok_framework.data import load_pairs, load_pairs_from
from dpok_framework.data.columns import rename_columns
from dpok_framework.errors import ConfigError, DataError

from data_helpers import STANDARD, write_jsonl

MAP = {"prompt": "question", "chosen": "good", "rejected": "bad"}
RENAMED = [{"question": r["prompt"], "good": r["chosen"], "bad": r["rejected"], "id": i}
           for i, r in enumerate(STANDARD)]


def _rows(ds):
    return [(r["prompt"], r["chosen"], r["rejected"], r["row"]) for r in ds]


@pytest.mark.parametrize("kind", ["list", "Dataset", "jsonl"])
def test_mapped_columns_give_the_standard_pairs(tmp_path, kind):
    source = {"list": RENAMED, "Dataset": datasets.Dataset.from_list(RENAMED),
              "jsonl": write_jsonl(tmp_path / "renamed.jsonl", RENAMED)}[kind]
    s = load_pairs_from(source, columns=MAP)
    assert s.format == "standard" and _rows(s.train) == _rows(load_pairs_from(STANDARD).train)


def test_a_partial_mapping_keeps_the_other_names_and_a_mapped_column_wins_over_its_namesake():
    rows = [dict(r, prompt="IGNORED raw prompt", question=r["prompt"]) for r in STANDARD]
    s = load_pairs_from(rows, columns={"prompt": "question"})
    assert _rows(s.train) == _rows(load_pairs_from(STANDARD).train)
    assert rename_columns({"question": "q", "prompt": "p", "x": 1}, {"prompt": "question"}) == {"x": 1, "prompt": "q"}


def test_mapping_onto_an_implicit_pair():
    rows = [{"better": "The sky is blue.", "worse": "The sky is green."}]
    s = load_pairs_from(rows, columns={"chosen": "better", "rejected": "worse"})
    assert s.format == "implicit" and _rows(s.train) == [("The sky is", " blue.", " green.", 0)]


def test_errors_name_the_source_column_and_the_row():
    bad = [dict(r) for r in RENAMED]
    bad[2]["good"] = 5
    with pytest.raises(DataError, match=r"^<list> row 2: field 'good' \(data.columns.chosen\) must be a string, "
                                        r"got int"):
        load_pairs_from(bad, columns=MAP)
    del bad[2]["good"]
    with pytest.raises(DataError, match=r"^train_dataset row 2: field 'good' \(data.columns.chosen\) is missing"):
        load_pairs(DataConfig(columns=MAP), train_dataset=bad)
    bad[2]["good"] = bad[2]["bad"]
    with pytest.raises(DataError, match=r"row 2: field 'bad' \(data.columns.rejected\) is identical to 'chosen'"):
        load_pairs(DataConfig(columns=MAP), train_dataset=datasets.Dataset.from_list(bad))


def test_a_mapped_column_absent_from_the_data_is_named_before_any_row():
    with pytest.raises(DataError, match=r"^train_dataset: column 'answer' \(data.columns.chosen\) not found; the "
                                        r"records have columns \['bad', 'good', 'id', 'question'\]"):
        load_pairs(DataConfig(columns={**MAP, "chosen": "answer"}), train_dataset=RENAMED)


def test_columns_apply_to_eval_sources_but_not_to_the_bundled_subset(tmp_path):
    cfg = DataConfig(columns=MAP, eval=str(write_jsonl(tmp_path / "held_out.jsonl", RENAMED)), max_samples=5)
    s = load_pairs(cfg)  # train: the bundled HH-RLHF subset with its own chosen/rejected columns
    assert len(s.train) == 5 and s.format == "implicit"
    assert _rows(s.eval) == _rows(load_pairs_from(STANDARD).train)


def test_config_checks_the_mapping(tmp_path):
    with pytest.raises(ConfigError, match=r"data.columns.answer"):
        config_from_dict({"data": {"columns": {"answer": "x"}}})
    with pytest.raises(ConfigError, match=r"'x' is mapped onto more than one"):
        config_from_dict({"data": {"columns": {"chosen": "x", "rejected": "x"}}})
    with pytest.raises(ConfigError, match=r"columns.prompt: the source column name is empty"):
        config_from_dict({"data": {"columns": {"prompt": " "}}})
    run = tmp_path / "run.yaml"
    run.write_text("data:\n  columns: {prompt: question, chosen: good, rejected: bad}\n")
    assert load_config(run).data.columns == MAP
    assert load_config(None, ["data.columns.chosen=good"]).data.columns == {"chosen": "good"}


def test_dpok_eval_reads_held_out_files_and_directories_with_the_runs_mapping(tmp_path, tok):
    from dpok_framework.evaluation.evaluate import load_eval_pairs

    cfg = config_from_dict({"data": {"columns": MAP, "eval_split": "test"}})
    raw, tokenised = load_eval_pairs(write_jsonl(tmp_path / "held.jsonl", RENAMED), tok, cfg)
    assert _rows(raw) == _rows(load_pairs_from(STANDARD).train) and len(tokenised) == len(STANDARD)
    dd = datasets.DatasetDict(train=datasets.Dataset.from_list(RENAMED[:1]), test=datasets.Dataset.from_list(RENAMED))
    dd.save_to_disk(str(tmp_path / "held_dir"))
    raw, _ = load_eval_pairs(tmp_path / "held_dir", tok, cfg)
    assert _rows(raw) == _rows(load_pairs_from(STANDARD).train)
