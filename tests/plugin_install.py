"""Real pip installs of plugin packages for tests (into a cached --target dir, discovered via sys.path).

A package installed this way has a real ``*.dist-info`` with ``entry_points.txt``, so discovery goes
through ``importlib.metadata`` exactly as for a package installed into site-packages.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CACHE = Path(os.environ.get("DPOK_TEST_PLUGIN_CACHE", Path(tempfile.gettempdir()) / "dpok-test-plugins"))

_BLOCK = re.compile(r'```[a-z]+ title="([^"]+)"\n(.*?)```', re.S)


def recipe_files(markdown: Path) -> dict[str, str]:
    """The ``title="path"`` code blocks of a markdown page: {relative path: content}."""
    return dict(_BLOCK.findall(markdown.read_text(encoding="utf-8")))


# The test session installs the recipe under names no user plugin has (a user who followed the recipe literally
# has a real `dpok-triangular` installed; the fixture must not clash with it).
RECIPE_RENAMES = [(re.compile(r"dpok([-_])triangular"), r"dpoktest\1triangular"),
                  (re.compile(r'^triangular = "', re.M), 'dpoktest_triangular = "'),
                  (re.compile(r'name = "triangular"'), 'name = "dpoktest_triangular"')]


def _rename(text: str) -> str:
    for pattern, repl in RECIPE_RENAMES:
        text = pattern.sub(repl, text)
    return text


def materialise_recipe(markdown: Path, dest: Path, unique_names: bool = False) -> list[Path]:
    """Write the recipe's files under ``dest`` (with ``unique_names``: renamed by :data:`RECIPE_RENAMES`);
    returns the package directories (those with a pyproject)."""
    pkgs = []
    for rel, content in recipe_files(markdown).items():
        if unique_names:
            rel, content = _rename(rel), _rename(content)
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        if path.name == "pyproject.toml":
            pkgs.append(path.parent)
    return pkgs


def _digest(dirs: list[Path]) -> str:
    h = hashlib.sha256()
    for d in sorted(dirs):
        for f in sorted(p for p in d.rglob("*") if p.is_file() and "egg-info" not in str(p) and "__pycache__" not in str(p)):
            h.update(str(f.relative_to(d.parent)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def pip_install_target(package_dirs: list[Path], label: str) -> Path:
    """``pip install --no-deps --target`` the packages once per content hash; returns the target dir."""
    target = CACHE / f"{label}-{_digest(package_dirs)}"
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{label}-", dir=CACHE))
    build = Path(tempfile.mkdtemp(prefix="dpok-build-"))
    try:
        srcs = []
        for d in package_dirs:  # build from a copy so no egg-info/build dirs land in the repo
            srcs.append(shutil.copytree(d, build / d.name))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "--no-index", "--target", str(tmp), *map(str, srcs)],
                       check=True, capture_output=True, text=True)
        try:
            tmp.rename(target)  # atomic publish; another worker may have won the race
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return target


def install_contributing_recipe() -> Path:
    src = Path(tempfile.mkdtemp(prefix="dpok-recipe-"))
    try:
        return pip_install_target(materialise_recipe(ROOT / "CONTRIBUTING.md", src, unique_names=True), "recipe")
    finally:
        shutil.rmtree(src, ignore_errors=True)


def install_fixture(*names: str) -> Path:
    return pip_install_target([FIXTURES / n for n in names], "-".join(names))
