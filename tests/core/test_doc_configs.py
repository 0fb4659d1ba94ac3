"""Every run configuration shown in README.md, CONTRIBUTING.md and docs/*.md validates as written.

The rule:

* every fenced block whose info string starts with ``yaml`` or ``yml`` is parsed (a block that is not valid
  YAML fails the test);
* a block is a *run configuration* when it is a mapping with at least one top-level key that is a
  ``RunConfig`` section (``model``, ``data``, ``kernel``, ...); any other key in it is then an error, as
  in a real file;
* a run configuration is validated like ``dpok config validate FILE``: written to a file, loaded with
  :func:`load_config` (sections the block leaves out take their defaults, so a fragment such as
  ``kernel: {...}`` is checked as the run it would give on its own) and checked against the installed
  plugins with :func:`validate_components`;
* YAML blocks with no run-configuration key (another tool's config, say) are not run configurations and
  are only required to parse.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dpok_framework.config import RunConfig, load_config, validate_components

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)(?P<info>.*)$")


def yaml_blocks(path: Path) -> list[tuple[int, str]]:
    """(1-based line of the opening fence, text) of each yaml/yml fenced block of a Markdown file."""
    blocks, lines, open_at, fence, info = [], path.read_text(encoding="utf-8").splitlines(), None, "", ""
    for i, line in enumerate(lines):
        m = FENCE.match(line)
        if not m:
            continue
        if open_at is None:
            open_at, fence, info = i, m["fence"], m["info"].strip().split(" ")[0].lower()
        elif m["fence"].startswith(fence[0]) and len(m["fence"]) >= len(fence) and not m["info"].strip():
            if info in ("yaml", "yml"):
                blocks.append((open_at + 1, "\n".join(lines[open_at + 1:i])))
            open_at = None
    assert open_at is None, f"{path.name}:{open_at + 1}: unclosed code fence"
    return blocks


def is_run_config(data) -> bool:
    return isinstance(data, dict) and any(key in RunConfig.model_fields for key in data)


BLOCKS = [(path, line, text) for path in DOCS if path.is_file() for line, text in yaml_blocks(path)]
RUN_CONFIGS = [(p, n, t) for p, n, t in BLOCKS if is_run_config(yaml.safe_load(t))]


def _id(block) -> str:
    return f"{block[0].name}:{block[1]}"


def test_the_extraction_finds_the_readme_configuration():
    assert any(p.name == "README.md" for p, _, _ in RUN_CONFIGS), "README.md's sample configuration not found"


def test_fence_parsing_on_a_sample(tmp_path):
    sample = tmp_path / "sample.md"
    sample.write_text("text\n```yaml\na: 1\n```\n\n```python\nx = '''\n```yaml\n'''\n```\n"
                      "~~~yml title=\"run.yml\"\nkernel: rbf\n~~~\n````\n```yaml\nnot: me\n```\n````\n")
    assert yaml_blocks(sample) == [(2, "a: 1"), (11, "kernel: rbf")]
    assert is_run_config({"kernel": "rbf", "typo": 1}) and not is_run_config({"compute_environment": "LOCAL"})
    assert not is_run_config(["model"])


@pytest.mark.parametrize("block", BLOCKS, ids=_id)
def test_every_yaml_block_parses(block):
    path, line, text = block
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        pytest.fail(f"{path.name}:{line}: not valid YAML: {exc}")


@pytest.mark.parametrize("block", RUN_CONFIGS, ids=_id)
def test_every_run_configuration_in_the_docs_validates(block, tmp_path, registry):
    path, line, text = block
    run = tmp_path / f"{path.stem}-{line}.yaml"
    run.write_text(text + "\n", encoding="utf-8")
    config = load_config(run)  # ConfigError names the field; the test id names the document and line
    validate_components(config, registry, source=f"{path.name}:{line}")
