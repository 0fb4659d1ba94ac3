"""Entry point of the ``dpok`` console script."""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import DpokError
from .config_cmd import config_group
from .plugins_cmd import plugins_command
from .select_cmd import select_command


class DpokGroup(click.Group):
    """Turns expected errors (bad config, bad data, unknown component) into one clear line, exit 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DpokError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=DpokGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dpok")
def cli() -> None:
    """DPO-Kernels preference optimisation: train, select, evaluate; plugins via the `dpok` entry points."""


cli.add_command(plugins_command)
cli.add_command(config_group)
cli.add_command(select_command)


def main() -> None:  # console-script target
    cli()
