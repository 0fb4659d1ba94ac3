"""`dpok select` on embeddings and pair files, and select_for_run / resolve_config on a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from dpok_framework.cli.main import cli

from .synthetic import heavy_tailed_drift, local_boundary_triplets


def _png_ok(path) -> None:
    import matplotlib.image as mpimg

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.shape[0] > 50 and img.shape[1] > 50 and float(np.std(img[..., :3])) > 0.05  # not blank


@pytest.fixture(scope="module")
def emb_file(tmp_path_factory):
    x, pos, neg = local_boundary_triplets(n=80, d=8, seed=4)
    logp, logq = heavy_tailed_drift(m=30, v=10, seed=4)
    path = tmp_path_factory.mktemp("emb") / "emb.pt"
    torch.save({"e_x": x, "e_pos": pos, "e_neg": neg, "logp": logp, "logq": logq}, path)
    return path


def test_select_table_report_and_heatmap(emb_file, tmp_path):
    out = tmp_path / "rep"
    res = CliRunner().invoke(cli, ["select", str(emb_file), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "rank  kernel" in res.output and "rank  divergence" in res.output and "selected: " in res.output
    report = json.loads((out / "selection.json").read_text())
    assert report["kernel"]["name"] in res.output and report["divergence"]["name"] in res.output
    assert len(report["pairs"]) >= 1 and report["reason"] in res.output.replace("\n", " ") or report["reason"]
    assert "```" in (out / "selection.md").read_text()
    _png_ok(out / "heatmap.png")


def test_select_json_and_npz_without_divergences(emb_file, tmp_path):
    blob = torch.load(emb_file)
    npz = tmp_path / "emb.npz"
    np.savez(npz, e_x=blob["e_x"].numpy(), e_pos=blob["e_pos"].numpy(), e_neg=blob["e_neg"].numpy())
    res = CliRunner().invoke(cli, ["select", str(npz), "--json", "--out", str(tmp_path / "r"), "--kernels",
                                   "rbf,linear,polynomial", "--mode", "exact"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["divergence"] is None and data["divergences"] is None
    assert [c["name"] for c in data["kernels"]["candidates"]][0] == data["kernel"]["name"] == "rbf"
    assert data["kernels"]["evidence"]["mode"] == "exact"
    _png_ok(tmp_path / "r" / "heatmap.png")


def test_select_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"e_x": torch.zeros(5, 2), "e_pos": torch.zeros(5, 2)}, bad)
    res = CliRunner().invoke(cli, ["select", str(bad), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2
    assert "missing ['e_neg']" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["select", str(tmp_path / "none.pt")])
    assert res.exit_code == 2 and "not found" in res.output


# ----------------------------------------------------------------- tiny model
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from engine.tiny import save_tiny_model, write_pairs

    root = tmp_path_factory.mktemp("tiny-select")
    return save_tiny_model(root / "model"), write_pairs(root / "pairs.jsonl", n=16)


def test_select_on_pairs_with_a_model(tiny, tmp_path):
    model_dir, pairs = tiny
    res = CliRunner().invoke(cli, ["select", str(pairs), "--model", str(model_dir), "--out", str(tmp_path / "r"),
                                   "--kernels", "rbf,polynomial", "--divergences", "kl,js,hellinger"])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "r" / "selection.json").read_text())
    assert data["kernel"]["name"] in ("rbf", "polynomial") and data["divergence"]["name"] in ("kl", "js", "hellinger")
    assert data["kernels"]["evidence"]["pairs"] == 16 and data["kernels"]["evidence"]["dim"] == 32
    assert data["divergences"]["evidence"]["outcomes"] == 128
    assert "policy_hidden" in data["kernels"]["evidence"]["source"]


def test_select_reads_renamed_columns_like_the_run_config(tiny, tmp_path):
    """--column FIELD=SOURCE is data.columns: renamed columns give the same evidence and scores as the original."""
    model_dir, pairs = tiny
    renamed = tmp_path / "renamed.jsonl"
    names = {"prompt": "question", "chosen": "good", "rejected": "bad"}
    with open(pairs) as src, open(renamed, "w") as dst:
        for line in src:
            row = json.loads(line)
            dst.write(json.dumps({names.get(k, k): v for k, v in row.items()}) + "\n")
    args = ["--model", str(model_dir), "--kernels", "rbf,polynomial", "--divergences", "kl,js", "--json"]
    plain = CliRunner().invoke(cli, ["select", str(pairs), "--out", str(tmp_path / "a"), *args])
    mapped = CliRunner().invoke(cli, ["select", str(renamed), "--out", str(tmp_path / "b"), *args,
                                      *[f"--column={k}={v}" for k, v in names.items()]])
    assert plain.exit_code == 0 and mapped.exit_code == 0, (plain.output, mapped.output)
    a, b = (json.loads((tmp_path / d / "selection.json").read_text()) for d in ("a", "b"))
    def scores(report, key):  # everything but the wall-clock fields
        return [{k: v for k, v in c.items() if not k.endswith("seconds")} for c in report[key]["candidates"]]

    for key in ("kernels", "divergences"):
        assert scores(a, key) == scores(b, key) and len(scores(a, key)) >= 2
    assert a["kernel"] == b["kernel"] and a["divergence"] == b["divergence"]
    unmapped = CliRunner().invoke(cli, ["select", str(renamed), "--out", str(tmp_path / "c"), *args])
    assert unmapped.exit_code == 2 and "renamed.jsonl" in unmapped.output and "Traceback" not in unmapped.output
    for bad, says in (("prompt", "expected FIELD=SOURCE"), ("answer=x", "columns.answer"),
                      ("prompt=", "columns.prompt"), ("chosen=q", "more than one")):
        extra = ["--column", bad] + (["--column", "prompt=q"] if bad == "chosen=q" else [])
        res = CliRunner().invoke(cli, ["select", str(renamed), "--out", str(tmp_path / "d"), *args, *extra])
        assert res.exit_code == 2 and says in res.output and "Traceback" not in res.output, (bad, res.output)


def test_select_for_run_and_resolve_config(tiny, tmp_path):
    from engine.tiny import char_tokenizer, run_config, tiny_llama

    from dpok_framework import get_registry
    from dpok_framework.data import load_pairs_from
    from dpok_framework.selection import resolve_auto

    model_dir, pairs = tiny
    cfg = run_config(tmp_path, model_dir, pairs, kernel={"name": "auto", "gamma": 0.5},
                     divergence={"link": "auto"},
                     selection={"sample_size": 12, "kernels": ["rbf", "linear", "spectral"], "positions_per_pair": 4})
    ds = load_pairs_from(str(pairs)).train
    resolved, result = resolve_auto(cfg, get_registry(), tiny_llama(), char_tokenizer(), ds, tmp_path / "run")
    assert resolved.kernel.name == result.kernel["name"] in ("rbf", "linear", "spectral")
    assert resolved.divergence.link.name == result.divergence["name"]
    assert get_registry().classes("divergence")[resolved.divergence.link.name].has_link
    assert resolved.kernel.gamma == 0.5 and resolved.selection.sample_size == 12
    sel_dir = tmp_path / "run" / "selection"
    for name in ("selection.json", "selection.md", "heatmap.png", "resolved.json"):
        assert (sel_dir / name).is_file(), name
    recorded = json.loads((sel_dir / "resolved.json").read_text())
    assert recorded["kernel"]["name"] == resolved.kernel.name and recorded["reason"] == result.reason
    assert json.loads((sel_dir / "selection.json").read_text())["kernels"]["evidence"]["pairs"] == 12


def test_auto_with_params_is_rejected(tiny, tmp_path):
    from engine.tiny import run_config

    from dpok_framework.errors import ConfigError
    from dpok_framework.selection import select_for_run

    model_dir, pairs = tiny
    cfg = run_config(tmp_path, model_dir, pairs, kernel={"name": "auto", "params": {"sigma": 1.0},
                                                           "gamma": 0.5})
    with pytest.raises(ConfigError, match="kernel.params cannot be combined"):
        select_for_run(cfg, None, None, None, None)
