"""The bundled default dataset: a small HH-RLHF harmless-base subset shipped as package data."""

from __future__ import annotations

from pathlib import Path

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
DEFAULT_DATASET = "hh_rlhf_harmless"


def bundled_dataset_path(name: str = DEFAULT_DATASET) -> Path:
    """Path of a bundled dataset's ``pairs.jsonl.gz`` (implicit format)."""
    path = BUNDLED_DIR / name / "pairs.jsonl.gz"
    if not path.is_file():
        available = sorted(p.name for p in BUNDLED_DIR.iterdir() if p.is_dir()) if BUNDLED_DIR.is_dir() else []
        raise FileNotFoundError(f"bundled dataset {name!r} not found at {path}; available: {available}")
    return path
