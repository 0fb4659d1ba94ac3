"""``dpok config``: print the JSON Schema, validate a file, show the resolved config."""

from __future__ import annotations

import json

import click

from ..config import RunConfig, dump_config, load_config, validate_components
from ..registry import load_registry


@click.group("config")
def config_group() -> None:
    """Inspect and validate run configurations."""


@config_group.command("schema")
def schema() -> None:
    """Print the JSON Schema of a run configuration."""
    click.echo(json.dumps(RunConfig.model_json_schema(), indent=2))


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
