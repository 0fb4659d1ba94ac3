"""Training state in a checkpoint without pickle: every file is JSON or safetensors.

Accelerate's ``save_state`` writes ``optimizer.bin``, ``random_states_N.pkl`` and, for objects registered
with ``register_for_checkpointing`` (the scheduler), ``custom_checkpoint_N.pkl``, which it loads with
``torch.load(weights_only=False)``: whoever can write a checkpoint can run code in the next ``--resume``.
dpok writes the state itself instead:

=============================  =======================================================================
``model.safetensors``          the prepared objective's weights (policy + kernel); tied tensors once
``optimizer.json`` +           the optimiser's ``state_dict``: structure and numbers as JSON, tensors
``optimizer.safetensors``      (Adam moments, step counts) as safetensors
``scheduler.json``             the LR scheduler's ``state_dict``
``scaler.json``                the fp16 GradScaler's ``state_dict`` (mixed_precision: fp16 only)
``rng_state_<rank>.json`` +    each process's Python, NumPy and torch (CPU and accelerator) RNG states
``rng_state_<rank>.safetensors``  and Accelerate's micro-step counter
=============================  =======================================================================

Nothing is unpickled when a checkpoint is loaded, whatever files it contains: a file of another name is
never opened, and a planted pickle under one of the names above is rejected by the JSON / safetensors
parser (a :class:`CheckpointError` naming the file). Exception: under FSDP / DeepSpeed the sharded model
and optimizer states are Accelerate's files, read with ``torch.load(weights_only=True)`` (see
:func:`save_training_state`).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DpokError
from .files import disk_errors, strict_json

MODEL_FILE = "model.safetensors"
OPTIMIZER = "optimizer"
SCHEDULER_FILE = "scheduler.json"
SCALER_FILE = "scaler.json"


class CheckpointError(DpokError):
    """A checkpoint file is missing or cannot be parsed (damaged, or not written by dpok)."""


# -- nested state <-> (JSON, tensors) ------------------------------------------------------------------------


def _encode(value: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        tensors[path] = value.detach().cpu()
        return {"__tensor__": path}
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return _encode(value.item(), path, tensors)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{path}.{i}", tensors) for i, v in enumerate(value)]
    if isinstance(value, dict):  # keys may be int (optimizer state by parameter index): keep their type
        return {"__dict__": [[k, _encode(v, f"{path}.{k}", tensors)] for k, v in value.items()]}
    raise TypeError(f"cannot store {type(value).__name__} at {path or '<root>'} without pickle")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__float__" in value:
        return float(value["__float__"])
    if "__ndarray__" in value:
        return np.asarray(value["__ndarray__"], dtype=value["dtype"])
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, tensors) for k, v in value["__dict__"]}
    raise ValueError(f"unknown entry {sorted(value)}")


def _unshared(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """safetensors refuses tensors that share memory: copy any that do (optimizer state rarely does)."""
    seen: set[tuple[int, int]] = set()
    out = {}
    for k, t in tensors.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset()) if t.numel() else (id(t), 0)
        out[k] = t.clone() if key in seen or not t.is_contiguous() else t
        seen.add(key)
    return out


def save_tree(directory: Path, stem: str, tree: Any) -> None:
    """``tree`` -> ``<stem>.json`` (+ ``<stem>.safetensors`` when it holds tensors)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    encoded = _encode(tree, "", tensors)
    with disk_errors(directory, "the checkpoint"):
        if tensors:
            save_file(_unshared(tensors), str(directory / f"{stem}.safetensors"))
        (directory / f"{stem}.json").write_text(strict_json(encoded, indent=None))


def load_tree(directory: Path, stem: str) -> Any:
    from safetensors.torch import load_file

    js, st = directory / f"{stem}.json", directory / f"{stem}.safetensors"
    try:
        encoded = json.loads(js.read_text(encoding="utf-8"))
        tensors = load_file(str(st)) if st.exists() else {}
        return _decode(encoded, tensors)
    except FileNotFoundError as exc:
        raise CheckpointError(f"checkpoint {directory}: {Path(exc.filename).name} is missing{_legacy_hint(directory)}"
                              ) from None
    except Exception as exc:  # not JSON / not safetensors / inconsistent: a damaged or foreign file
        raise CheckpointError(f"checkpoint {directory}: cannot read {stem}.json/.safetensors ({type(exc).__name__}: "
                              f"{exc}); the file is damaged or was not written by dpok") from None


# -- RNG states -------------------------------------------------------------------------------------------


def rng_state(accelerator: Any = None) -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if hasattr(torch, "xpu") and torch.xpu.is_available():
        state["xpu"] = torch.xpu.get_rng_state_all()
    if accelerator is not None:
        state["accelerator_step"] = int(accelerator.step)
    return state


def set_rng_state(state: dict[str, Any], accelerator: Any = None) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "xpu" in state and hasattr(torch, "xpu") and torch.xpu.is_available():
        torch.xpu.set_rng_state_all(state["xpu"])
    if accelerator is not None and "accelerator_step" in state:
        accelerator.step = state["accelerator_step"]


# -- the whole training state -------------------------------------------------------------------------------


def sharded(accelerator) -> bool:
    """FSDP / DeepSpeed: parameters and optimizer state are sharded across processes."""
    from accelerate.utils import DistributedType

    return accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)


def save_training_state(accelerator, directory: Path, model, optimizer, scheduler) -> None:
    """Every process calls this; it writes its own RNG state, the main process the rest.

    Exception: under FSDP / DeepSpeed the sharded model and optimizer states are written by Accelerate's
    ``save_state`` (its loader reads them with ``torch.load(weights_only=True)``, which refuses to run
    code); the scheduler and the RNG states stay JSON / safetensors, and nothing is registered for
    Accelerate's ``custom_checkpoint_N.pkl``."""
    from safetensors.torch import save_model

    directory = Path(directory)
    if sharded(accelerator):
        with disk_errors(directory, "the checkpoint"):
            accelerator.save_state(str(directory), safe_serialization=True)
    elif accelerator.is_main_process:
        with disk_errors(directory, "the checkpoint"):
            save_model(accelerator.unwrap_model(model), str(directory / MODEL_FILE))
        save_tree(directory, OPTIMIZER, optimizer.state_dict())
    if accelerator.is_main_process:
        (directory / SCHEDULER_FILE).write_text(strict_json(_encode(scheduler.state_dict(), "", {}), indent=None))
        if accelerator.scaler is not None:
            (directory / SCALER_FILE).write_text(strict_json(_encode(accelerator.scaler.state_dict(), "", {})))
    save_tree(directory, f"rng_state_{accelerator.process_index}", rng_state(accelerator))


def load_training_state(accelerator, directory: Path, model, optimizer, scheduler) -> None:
    """Restore what :func:`save_training_state` wrote, on every process; nothing is unpickled."""
    directory = Path(directory)
    if sharded(accelerator):
        accelerator.load_state(str(directory))  # model + optimizer shards (weights_only=True); see save
    else:
        _load_model(accelerator.unwrap_model(model), directory)
        optimizer.load_state_dict(load_tree(directory, OPTIMIZER))
    scheduler.load_state_dict(_read_json_state(directory, SCHEDULER_FILE))
    if accelerator.scaler is not None:
        accelerator.scaler.load_state_dict(_read_json_state(directory, SCALER_FILE))
    set_rng_state(load_tree(directory, f"rng_state_{accelerator.process_index}"), accelerator)


def _legacy_hint(directory: Path) -> str:
    if (directory / "optimizer.bin").exists() or (directory / "custom_checkpoint_0.pkl").exists():
        return ("; it looks like a checkpoint of an older dpok (Accelerate's pickled state), which is not loaded "
                "because unpickling can run code: start a new run (or resume with the dpok version that wrote it)")
    return ""


def _load_model(inner, directory: Path) -> None:
    from safetensors.torch import load_model

    device = next((p.device for p in inner.parameters()), torch.device("cpu"))
    try:
        load_model(inner, str(directory / MODEL_FILE), strict=True, device=str(device))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {directory}: {MODEL_FILE} is missing") from None
    except Exception as exc:
        raise CheckpointError(f"checkpoint {directory}: cannot load {MODEL_FILE} into the model ({type(exc).__name__}: "
                              f"{exc}); the file is damaged or belongs to another model/kernel") from None


def _read_json_state(directory: Path, name: str) -> Any:
    try:
        return _decode(json.loads((directory / name).read_text(encoding="utf-8")), {})
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {directory}: {name} is missing") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {directory}: cannot read {name} ({exc}); the file is damaged or was "
                              "not written by dpok") from None
