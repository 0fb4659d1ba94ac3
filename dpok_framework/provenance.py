"""Which plugin, distribution and version supplied each component a run uses, and which plugins failed to load.

The engine writes :func:`component_record` as ``<run_dir>/plugins.json`` once the objective is built, so a
run directory says where its kernel, divergences, loss, embedder and privacy wrapper came from::

    {"components": [{"role": "loss", "kind": "loss", "name": "sigmoid", "plugin": "dpok_losses",
                     "distribution": "dpok-losses", "version": "0.1.0"}, ...],
     "plugin_failures": [...], "disabled": [...], "clashes": [...]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import DpokError
from .rundir.files import write_json

AUTO = "auto"


def components_used(config: Any) -> list[tuple[str, str, str]]:
    """``(role, kind, name)`` for every component ``config`` (a resolved ``RunConfig``) makes the engine build."""
    out = [("loss", "loss", config.loss.name), ("divergence.link", "divergence", config.divergence.link.name)]
    if config.divergence.penalty is not None:
        out.append(("divergence.penalty", "divergence", config.divergence.penalty.name))
    if config.kernel.name is not None:
        out.append(("kernel", "kernel", config.kernel.name))
        out.append(("kernel.embedder", "embedder", config.kernel.embedder.name))
    if getattr(config, "privacy", None) is not None:
        out.append(("privacy", "privacy_wrapper", config.privacy.wrapper_spec()["name"]))
    return [(role, kind, name) for role, kind, name in out if name and name != AUTO]


def component_record(config: Any, registry: Any) -> dict[str, Any]:
    """JSON-able record of the components ``config`` uses (plugin, distribution, version) and the registry's
    plugin load failures, disabled plugins and name clashes."""
    rows = []
    for role, kind, name in components_used(config):
        row: dict[str, Any] = {"role": role, "kind": kind, "name": name}
        try:
            info = registry.get(kind, name)
            row.update(plugin=info.plugin, distribution=info.distribution, version=info.version)
        except DpokError as exc:  # recorded, not raised: the engine validated the config before this point
            row.update(error=str(exc))
        rows.append(row)
    data = registry.to_json()
    return {"components": rows, "plugin_failures": data["failures"], "disabled": data["disabled"],
            "clashes": data["clashes"]}


def write_component_record(run_dir: str | Path, config: Any, registry: Any, enabled: bool = True) -> Path | None:
    """Write :func:`component_record` to ``run_dir/plugins.json`` atomically (only where ``enabled``: the main
    process); returns the path."""
    if not enabled:
        return None
    path = Path(run_dir) / "plugins.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, component_record(config, registry))  # atomic, strict, mode from the umask (mkstemp: 0600)
    return path
