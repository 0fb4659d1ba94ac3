"""``dpok plugins``: what is installed, from which distribution, and what it registered."""

from __future__ import annotations

import json

import click

from ..kinds import KINDS
from ..registry import load_registry


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--strict", is_flag=True, help="Exit with an error if any plugin failed to load.")
def plugins_command(as_json: bool, strict: bool) -> None:
    """List installed dpok plugins, their components per kind, and any that failed to load."""
    registry = load_registry(strict=strict)
    if as_json:
        click.echo(json.dumps(registry.to_json(), indent=2))
        return
    if not registry.plugins:
        click.echo("No dpok plugins loaded (DPOK_PLUGINS / DPOK_DISABLE_PLUGINS may exclude them).")
    for name, info in sorted(registry.plugins.items()):
        dist = f"{info.distribution} {info.version}" if info.distribution else "(registered in-process)"
        click.echo(f"{name}  [{dist}]")
        for kind in KINDS:
            comps = info.components.get(kind)
            if comps:
                click.echo(f"  {kind:<17} {', '.join(sorted(comps))}")
    for name in sorted(registry.disabled):
        click.echo(f"{name}  [disabled by environment]")
    for f in registry.failures:
        click.echo(click.style(f"FAILED {f.plugin}  [{f.distribution} {f.version}] at {f.stage}: {f.error}",
                               fg="red"), err=True)
