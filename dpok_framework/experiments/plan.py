"""``dpok sweep plan``: resolve every cell's run configuration and write it with one command per cell.

Layout of the sweep directory::

    plan.json            the cells (name, axis labels, seed, config and run paths, command)
    commands.txt         one shell command per cell (a Slurm array / Ray / accelerate launch runs any line)
    configs/<cell>.yaml  the resolved run config of each cell (a plain `dpok train` config)
    data/train.jsonl     the training pairs, data/heldout.jsonl the held-out pairs, data/split.json the
                         source rows of each (when the base config cuts its held-out split by eval_fraction)
    runs/<cell>/         each cell's ordinary run directory (written by `dpok sweep run`)

The held-out split is cut once, here, and every cell reads the same two files: all cells are evaluated on
the same pairs even when an axis changes ``data.seed`` or the fraction (so the comparisons are paired).
"""

from __future__ import annotations

import copy
import itertools
import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import RunConfig, config_from_dict, dump_config
from ..config.loading import _deep_merge, set_dotted
from ..errors import ConfigError
from .spec import SweepSpec, slug

PLAN_JSON = "plan.json"
COMMANDS = "commands.txt"
SEED_FIELD = "training.seed"


@dataclass
class Cell:
    name: str
    labels: dict[str, str]             # axis -> label ({} for the baseline)
    seed: int
    baseline: bool
    config: str                        # path of the resolved config
    run_dir: str
    command: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def group(self) -> str:
        """The cell's name without its seed (cells of one group differ only in the seed)."""
        return self.name.rsplit("__seed-", 1)[0]


@dataclass
class Plan:
    spec: SweepSpec
    out_dir: Path
    cells: list[Cell]

    def cell(self, name: str) -> Cell:
        for c in self.cells:
            if c.name == name:
                return c
        raise ConfigError(f"no cell named {name!r} in {self.out_dir / PLAN_JSON}; cells: "
                          f"{[c.name for c in self.cells]}")

    @property
    def baseline_group(self) -> str | None:
        return next((c.group for c in self.cells if c.baseline), None)


def resolve_config(base: dict[str, Any], overrides: dict[str, Any], where: str) -> RunConfig:
    data = _deep_merge(RunConfig().model_dump(mode="json"), copy.deepcopy(base))
    for key, value in overrides.items():
        set_dotted(data, key, copy.deepcopy(value), f"sweep override {key}")
    return config_from_dict(data, where)


def _grid(spec: SweepSpec) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """(axis -> label, merged overrides) of every cell of the product, in axis order."""
    axes = list(spec.axes)
    out = []
    for combo in itertools.product(*(spec.axis_values(a) for a in axes)):
        labels, over = {}, {}
        for axis, (label, o) in zip(axes, combo):
            labels[axis] = label
            over.update(o)
        out.append((labels, over))
    return out


def cell_name(labels: dict[str, str], seed: int) -> str:
    return "__".join([f"{slug(a)}-{lab}" for a, lab in labels.items()] + [f"seed-{seed}"])


def _materialise_split(cfg: RunConfig, data_dir: Path) -> dict[str, Any]:
    """Cut the base config's held-out split once (the data pipeline's own split) and write the raw source
    records of each side; returns the data overrides every cell gets."""
    from ..data import load_pairs
    from ..data.bundled import bundled_dataset_path
    from ..data.io import iter_records

    d = cfg.data
    if d.eval is not None:
        return {}
    if d.eval_fraction == 0:
        raise ConfigError("sweep base config: data.eval_fraction is 0 and data.eval is unset: a sweep needs "
                          "held-out pairs to compare its cells (set one of them)")
    try:
        splits = load_pairs(d, tokenizer=None)
    except ConfigError:
        raise
    except Exception as exc:  # e.g. conversational data needs the tokenizer's chat template
        raise ConfigError(f"sweep base config: cannot cut the held-out split without a model ({exc}); give "
                          "data.eval (a held-out file) in the base config") from None
    source = bundled_dataset_path() if d.train is None else Path(d.train)
    rows = {"train": set(splits.train["row"]), "heldout": set(splits.eval["row"])}
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = {k: data_dir / f".{k}.jsonl.tmp" for k in rows}
    handles = {k: tmp[k].open("w", encoding="utf-8") for k in rows}
    try:
        for row, record in iter_records(source):
            for k, ids in rows.items():
                if row in ids:
                    handles[k].write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    finally:
        for h in handles.values():
            h.close()
    for k in rows:
        tmp[k].replace(data_dir / f"{k}.jsonl")
    split = {"source": str(source), "eval_fraction": d.eval_fraction, "seed": d.seed,
             "max_samples": d.max_samples, "train_rows": sorted(rows["train"]),
             "heldout_rows": sorted(rows["heldout"])}
    (data_dir / "split.json").write_text(json.dumps(split) + "\n", encoding="utf-8")
    over: dict[str, Any] = {"data.train": str((data_dir / "train.jsonl").resolve()),
                            "data.eval": str((data_dir / "heldout.jsonl").resolve()), "data.max_samples": None}
    if d.train is None:
        over["data.format"] = "implicit"  # the bundled subset's format
    return over


def build_plan(spec: SweepSpec, out_dir: str | Path | None = None, write: bool = True) -> Plan:
    """Resolve (and validate) every cell's config; with ``write``, materialise the split and write the
    configs, ``plan.json`` and ``commands.txt`` (see module docstring)."""
    out = Path(out_dir) if out_dir is not None else spec.output_dir()
    base = spec.base_dict()
    base_cfg = resolve_config(base, spec.set, f"sweep {spec.name}: base + set")
    data_over = _materialise_split(base_cfg, out / "data") if write else {}
    entries: list[tuple[dict[str, str], dict[str, Any], bool]] = []
    if spec.baseline is not None:
        entries.append(({}, dict(spec.baseline.set), True))
    entries += [(labels, over, False) for labels, over in _grid(spec)]
    cells = []
    spec_arg = shlex.quote(spec.source) if spec.source else "SWEEP.yaml"
    for labels, over, is_base in entries:
        for seed in spec.seeds:
            name = (f"baseline-{slug(spec.baseline.label)}__seed-{seed}" if is_base else cell_name(labels, seed))
            run_dir = (out / "runs" / name).resolve()
            full = {**spec.set, **over, **data_over, SEED_FIELD: seed, "output.dir": str(run_dir),
                    "output.overwrite": True}
            cfg = resolve_config(base, full, f"sweep cell {name}")
            cfg_path = (out / "configs" / f"{name}.yaml").resolve()
            command = f"dpok sweep run {spec_arg} --out {shlex.quote(str(out.resolve()))} --cell {shlex.quote(name)}"
            cells.append(Cell(name, labels, seed, is_base, str(cfg_path), str(run_dir), command,
                              {k: v for k, v in full.items() if k not in ("output.dir", "output.overwrite")}))
            if write:
                cfg_path.parent.mkdir(parents=True, exist_ok=True)
                _atomic_write(cfg_path, dump_config(cfg))
    plan = Plan(spec, out, cells)
    if write:
        _atomic_write(out / PLAN_JSON, json.dumps({
            "name": spec.name, "spec": spec.source, "axes": list(spec.axes), "seeds": spec.seeds,
            "baseline": spec.baseline.label if spec.baseline else None, "metric": spec.metric,
            "alpha": spec.alpha, "cells": [c.to_json() for c in cells]}, indent=2) + "\n")
        _atomic_write(out / COMMANDS, "".join(c.command + "\n" for c in cells))
    return plan


def load_plan(spec: SweepSpec, out_dir: str | Path | None = None) -> Plan:
    """The plan stored in ``OUT/plan.json`` (written by :func:`build_plan` when missing)."""
    out = Path(out_dir) if out_dir is not None else spec.output_dir()
    path = out / PLAN_JSON
    if not path.is_file():
        return build_plan(spec, out)
    stored = json.loads(path.read_text(encoding="utf-8"))
    return Plan(spec, out, [Cell(**c) for c in stored.get("cells", [])])


def read_cell_config(cell: Cell) -> RunConfig:
    from ..config import load_config

    path = Path(cell.config)
    if not path.is_file():
        raise ConfigError(f"cell {cell.name}: its config {path} is missing; run `dpok sweep plan` again")
    return load_config(path)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
