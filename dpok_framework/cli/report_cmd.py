"""``dpok report``: a self-contained HTML report (plus PNGs) of a run directory."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output directory (default: RUN_DIR/report).")
@click.option("--no-embed", is_flag=True, help="Link the PNGs instead of embedding them as base64.")
def report_command(run_dir, out, no_embed) -> None:
    """Write RUN_DIR/report/index.html: training curves, kernel weights, divergence penalty, selection heat map,
    generalisation drift, the `dpok eval` table and the `dpok analyze` weighted-alpha comparison (when present)."""
    from ..report import build_report

    index = build_report(run_dir, out_dir=out, embed_images=not no_embed)
    click.echo(f"wrote {index}")
