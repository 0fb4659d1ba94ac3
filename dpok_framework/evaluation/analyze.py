"""``dpok analyze``: HT-SR weighted alpha of a trained policy and its reference, side by side.

The policy is a run directory's ``model/`` (or a model directory); the reference is ``--reference``, else the
run's ``model.reference``, else its starting model ``model.path`` (see :mod:`.htsr` for the maths).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .htsr import analyze_model, compare
from .rundir import EVAL_DIR, HTSR_JSON, is_run_dir, write_json


def resolve_models(target: str | Path, reference: str | Path | None = None) -> tuple[Path, Path | None, Any]:
    """(policy dir, reference dir or None, RunConfig or None)."""
    from ..config import load_config
    from ..models import resolve_model_dir

    path = Path(target)
    if is_run_dir(path) and (path / "config.yaml").is_file():
        cfg = load_config(path / "config.yaml")
        policy = path / "model"
        if not (policy / "config.json").is_file():
            raise ConfigError(f"{path}: no saved policy in {policy}")
        if reference is not None:
            return policy, resolve_model_dir(str(reference)), cfg
        src = cfg.model.reference or cfg.model.path
        return policy, resolve_model_dir(src, None if cfg.model.reference else cfg.model.gguf_file), cfg
    if (path / "config.json").is_file():
        return path, (resolve_model_dir(str(reference)) if reference is not None else None), None
    raise ConfigError(f"{path}: neither a dpok run directory (config.yaml, model/) nor a Hugging Face model "
                      "directory (config.json)")


def analyze(target: str | Path, reference: str | Path | None = None, min_evals: int = 10, min_tail: int = 2,
            out: str | Path | None = None, write: bool = True) -> dict[str, Any]:
    """HT-SR comparison JSON (see :func:`.htsr.compare`); written to ``out`` (default ``RUN/eval/htsr.json``)."""
    from ..models import load_causal_lm

    policy_dir, ref_dir, cfg = resolve_models(target, reference)
    trust = bool(cfg.model.trust_remote_code) if cfg is not None else False
    pol = analyze_model(load_causal_lm(policy_dir, "float32", trust), min_evals=min_evals, min_tail=min_tail)
    ref = None
    if ref_dir is not None:
        ref = analyze_model(load_causal_lm(ref_dir, "float32", trust), min_evals=min_evals, min_tail=min_tail)
    result = compare(pol, ref)
    result.update({"policy_dir": str(policy_dir), "reference_dir": None if ref_dir is None else str(ref_dir),
                   "min_evals": min_evals, "min_tail": min_tail,
                   "skipped": {"policy": [{"name": n, "reason": r} for n, r in pol.skipped],
                               "reference": [{"name": n, "reason": r} for n, r in ref.skipped] if ref else []},
                   "layer_details": {"policy": [l.to_json() for l in pol.layers],
                                     "reference": [l.to_json() for l in ref.layers] if ref else []}})
    if write:
        dest = Path(out) if out is not None else (Path(target) / EVAL_DIR / HTSR_JSON if cfg is not None else None)
        if dest is not None:
            write_json(dest, result)
            result["written_to"] = str(dest)
    return result
