"""``dpok config``: print the JSON Schema, validate a file, show the resolved config."""

from __future__ import annotations

import json

import click

from ..config import RunConfig, dump_config, load_config, validate_components
from ..kinds import KINDS
from ..registry import load_registry


@click.group("config")
def config_group() -> None:
    """Inspect and validate run configurations."""


@config_group.command("schema")
@click.option("--no-components", is_flag=True, help="Only the run configuration, without installed components.")
def schema(no_components: bool) -> None:
    """Print the JSON Schema of a run configuration, with the params schema of every installed component under
    ``x-dpok-components`` (kind -> name -> {plugin, distribution, version, params})."""
    out = RunConfig.model_json_schema()
    if not no_components:
        out["x-dpok-components"] = component_schemas(load_registry())
    click.echo(json.dumps(out, indent=2))


def component_schemas(registry) -> dict[str, dict[str, dict]]:
    """``{kind: {name: {summary, plugin, distribution, version, params: JSON Schema}}}`` of usable components."""
    out: dict[str, dict[str, dict]] = {}
    for kind in KINDS:
        out[kind] = {}
        for info in registry.infos(kind):
            d = info.to_json()
            out[kind][info.name] = {k: d[k] for k in ("summary", "plugin", "distribution", "version", "params")}
    return out


@config_group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a field, e.g. training.lr=1e-5.")
@click.option("--show", is_flag=True, help="Print the resolved configuration as YAML.")
def validate(file: str, overrides: tuple[str, ...], show: bool) -> None:
    """Validate FILE (fields, types, cross-field rules, and component names/params against installed plugins)."""
    config = load_config(file, overrides)
    validate_components(config, load_registry(strict=config.strict_plugins), source=file)
    if show:
        click.echo(dump_config(config), nl=False)
    else:
        click.echo(f"{file}: valid")
