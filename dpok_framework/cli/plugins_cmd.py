"""``dpok plugins``: what is installed, from which distribution, and what it registered; ``dpok plugins
check`` runs the component contract on installed components; ``dpok plugins new`` writes a plugin package."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..kinds import KINDS
from ..registry import load_registry


@click.group("plugins", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--strict", is_flag=True, help="Exit with an error if any plugin failed to load.")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool, strict: bool) -> None:
    """List installed dpok plugins, their components per kind, name clashes, and any that failed to load."""
    if ctx.invoked_subcommand is not None:
        return
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
    for (kind, name), clash in sorted(registry.clashes.items()):
        click.echo(click.style(f"CLASH {kind} {name!r}: {', '.join(c.where() for c in clash)} (unusable until one "
                               f"is uninstalled or disabled)", fg="yellow"))
    for f in registry.failures:
        click.echo(click.style(f"FAILED {f.plugin}  [{f.distribution} {f.version}] at {f.stage}: {f.error}",
                               fg="red"), err=True)


@plugins_command.command("check")
@click.argument("targets", nargs=-1, metavar="[NAME|DIST ...]")
@click.option("--thorough", is_flag=True, help="More params draws and inputs per property (slower).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the params draws and inputs.")
def check_command(targets: tuple[str, ...], thorough: bool, as_json: bool, seed: int) -> None:
    """Run the dpok component contract on installed components (all, or the named components, plugins or
    distributions).  Exits 1 if any property is violated or a check raises."""
    from ..testing import format_results, run_contract

    registry = load_registry()
    results = run_contract(registry, targets, "thorough" if thorough else "fast", seed=seed)
    bad = [r for r in results if not r.ok]
    if as_json:
        click.echo(json.dumps({"results": [r.to_json() for r in results], "violations": len(bad)}, indent=2))
    else:
        click.echo(format_results(results))
        comps = {(r.kind, r.component) for r in results}
        click.echo(f"\n{len(results)} checks on {len(comps)} components: {len(bad)} violation(s)"
                   f"{' (profile thorough)' if thorough else ''}")
        for r in bad:
            click.echo(click.style("VIOLATION " + r.describe(), fg="red"), err=True)
    if bad:
        sys.exit(1)


@plugins_command.command("new")
@click.argument("name")
@click.option("--kind", "kind", required=True, type=click.Choice(sorted(KINDS)), help="Component kind.")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to create the package directory.")
def new_command(name: str, kind: str, directory: str) -> None:
    """Write a plugin package for one new component NAME of KIND: pyproject.toml with the entry point, a
    documented skeleton that already passes the contract, and a test file running the contract."""
    from ..scaffold import write_plugin

    root = write_plugin(kind, name, Path(directory))
    click.echo(f"wrote {root}\nnext: pip install -e {root} && pytest {root}  (then edit {root.name.replace('-', '_')}/)")
