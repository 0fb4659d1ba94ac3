"""Load a :class:`RunConfig` from YAML/JSON with ``--set a.b=value`` overrides; errors name field and file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .run import RunConfig


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"{self.name}: line {line}: duplicate key {key!r} (first set on line {seen[key]}); "
                                  "YAML would silently keep the last value: remove one of them")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _unique_json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ConfigError(f"duplicate key(s) {dup} in one JSON object: remove the repeated one")
    return dict(pairs)


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_json_object)
        else:
            loader = _UniqueKeyLoader(text)
            loader.name = str(path)
            try:
                data = loader.get_single_data()
            finally:
                loader.dispose()
    except ConfigError as exc:
        raise ConfigError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def set_dotted(data: dict[str, Any], key: str, value: Any, label: str) -> None:
    """``data["a"]["b"] = value`` for ``key = "a.b"``. A string shorthand (``kernel: rbf``) or a null section on
    the way becomes a mapping (``{"name": "rbf"}``); a non-mapping is an error starting with ``label``."""
    node = data
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None or isinstance(child, str):
            child = {"name": child} if isinstance(child, str) else {}
            node[part] = child
        elif not isinstance(child, dict):
            raise ConfigError(f"{label}: {'.'.join(parts[:i + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``section.field=value`` strings; values are parsed as YAML scalars/lists."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE (e.g. training.lr=1e-5), got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        set_dotted(data, key.strip(), value, f"--set {item}")
    return data


def format_validation_error(exc: ValidationError, source: str | None) -> str:
    where = f" in {source}" if source else ""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {loc.rsplit('.', 1)[-1]!r}"
        lines.append(f"  {loc}: {msg}")
    return f"invalid configuration{where}:\n" + "\n".join(lines)


def config_from_dict(data: dict[str, Any], source: str | None = None) -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def _deep_merge(base: Any, top: Any) -> Any:
    if isinstance(base, dict) and isinstance(top, dict):
        merged = dict(base)
        for key, value in top.items():
            merged[key] = _deep_merge(base.get(key), value) if key in base else value
        return merged
    return top


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> RunConfig:
    """Read ``path`` (or start from defaults), apply overrides on top of file + defaults, validate."""
    data = read_config_file(path) if path is not None else {}
    overrides = list(overrides)
    if overrides:  # `--set divergence.link.params.alpha=1` must refine the default link, not replace it
        data = apply_overrides(_deep_merge(RunConfig().model_dump(mode="json"), data), overrides)
    return config_from_dict(data, str(path) if path is not None else None)


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
