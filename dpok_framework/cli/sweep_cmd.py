"""``dpok sweep plan|run|collect SWEEP.yaml``: a grid of ordinary runs with paired statistics (docs/experiments.md)."""

from __future__ import annotations

import logging

import click

_OUT = click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
                    help="Sweep directory (default: the sweep file's `out_dir`, else sweeps/<name>).")
_SPEC = click.argument("sweep_file", type=click.Path(exists=True, dir_okay=False))


@click.group("sweep")
def sweep_group() -> None:
    """Run a base config over axes of config fields (kernels x divergences, seeds, ...), compare every cell
    with a baseline cell on the same held-out pairs, and write a table, a heat map and a report."""


@sweep_group.command("plan")
@_SPEC
@_OUT
def plan_command(sweep_file, out_dir) -> None:
    """Write each cell's resolved config (configs/), plan.json and commands.txt (one command per cell)."""
    from ..experiments import build_plan, cell_status, load_spec

    plan = build_plan(load_spec(sweep_file), out_dir)
    for c in plan.cells:
        click.echo(f"{cell_status(c):9} {c.name}")
    click.echo(f"{len(plan.cells)} cells; configs in {plan.out_dir / 'configs'}, one command per cell in "
               f"{plan.out_dir / 'commands.txt'}")


@sweep_group.command("run")
@_SPEC
@_OUT
@click.option("--cell", "cells", multiple=True, help="Run only this cell (repeatable); default: every cell.")
@click.option("--no-collect", is_flag=True, help="Do not collect the results after the last cell.")
@click.option("--quiet", "-q", is_flag=True, help="Only warnings and one line per cell.")
def run_command(sweep_file, out_dir, cells, no_collect, quiet) -> None:
    """Run the cells one after another (finished cells are skipped, an interrupted one resumes from its
    checkpoint), then collect."""
    from ..experiments import build_plan, load_plan, load_spec, run_sweep, write_outputs

    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "accelerate"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("accelerate.utils.other").setLevel(logging.ERROR)
    spec = load_spec(sweep_file)
    plan = load_plan(spec, out_dir) if cells else build_plan(spec, out_dir)
    n = len(cells) if cells else len(plan.cells)
    counter = iter(range(1, n + 1))
    done = run_sweep(plan, list(cells) or None,
                     on_cell=lambda c, what, s: click.echo(f"[{next(counter)}/{n}] {c.name}: {what} ({s:.0f} s)"))
    if not cells and not no_collect:
        _collect(plan)
    failed = [name for name, what in done.items() if what.startswith("failed")]
    if failed:
        click.echo(f"{len(failed)} cell(s) failed: {', '.join(failed)}; fix and run again (finished cells are "
                   "skipped)", err=True)
        raise SystemExit(1)


def _collect(plan) -> None:
    from ..experiments import write_outputs
    from ..experiments.table import markdown

    out = write_outputs(plan)
    click.echo("")
    click.echo(markdown(out["results"]))
    for g in out["results"]["groups"]:
        click.echo(f"{g['group']}: {g['verdict']}")
    click.echo("wrote " + ", ".join(str(p) for p in out["paths"].values()))


@sweep_group.command("collect")
@_SPEC
@_OUT
def collect_command(sweep_file, out_dir) -> None:
    """Aggregate whatever has finished: results/{results.json, table.md, table.csv, heatmap.png, index.html}."""
    from ..experiments import load_plan, load_spec

    _collect(load_plan(load_spec(sweep_file), out_dir))
