"""``dpok plugins new``: write a plugin package for one component (pyproject with the ``dpok`` entry point,
a documented skeleton that passes the contract, and a test module running the contract)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ConfigError
from ..kinds import KINDS
from .templates import PYPROJECT, SKELETONS, TEST

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

SUMMARIES = {"kernel": "a dpok kernel", "divergence": "a dpok divergence", "loss": "a dpok preference loss",
             "selection_metric": "a dpok selection metric", "embedder": "a dpok embedder",
             "privacy_wrapper": "a dpok privacy wrapper"}


def package_names(name: str) -> tuple[str, str, str]:
    """(distribution, module, class) for a component ``name``: ``my_div`` -> dpok-my-div, dpok_my_div, MyDiv."""
    if not _NAME.match(name):
        raise ConfigError(f"plugin name {name!r}: use lower_snake_case starting with a letter (it is the registry "
                          f"name, e.g. my_divergence)")
    return f"dpok-{name.replace('_', '-')}", f"dpok_{name}", "".join(p.capitalize() for p in name.split("_"))


def write_plugin(kind: str, name: str, directory: Path) -> Path:
    """Create ``directory/dpok-<name>/`` and return it; refuses to overwrite an existing directory."""
    if kind not in KINDS:
        raise ConfigError(f"--kind {kind!r}: one of {', '.join(KINDS)}")
    dist, module, cls = package_names(name)
    root = Path(directory) / dist
    if root.exists():
        raise ConfigError(f"{root} already exists; choose another name or directory")
    summary = f"{SUMMARIES[kind]} ({name}) for dpok-framework"
    files = {
        root / "pyproject.toml": PYPROJECT.format(dist=dist, name=name, module=module, summary=summary),
        root / module / "__init__.py": SKELETONS[kind].format(cls=cls, name=name, summary=summary.capitalize()),
        root / "tests" / f"test_{module}_contract.py": TEST.format(dist=dist),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
