"""Entry point of the ``dpok`` console script."""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import DpokError
from .analyze_cmd import analyze_command
from .config_cmd import config_group
from .eval_cmd import eval_command
from .plugins_cmd import plugins_command
from .report_cmd import report_command
from .select_cmd import select_command
from .train_cmd import train_command


class DpokGroup(click.Group):
    """Turns expected errors (bad config, bad data, unknown component) into one clear line, exit 2; adds the
    sub-commands plugins register through the ``register_commands`` hook (looked up only when a name is not
    a built-in command, or for the command list, so built-in commands start without loading plugins)."""

    def _plugin_commands(self) -> dict[str, click.Command]:
        from ..registry import get_registry  # loads every plugin: only when a plugin command is needed

        found = click.Group(self.name)
        get_registry().manager.hook.register_commands(cli=found)
        return {name: cmd for name, cmd in found.commands.items() if name not in self.commands}

    def get_command(self, ctx: click.Context, cmd_name: str):
        return super().get_command(ctx, cmd_name) or self._plugin_commands().get(cmd_name)

    def list_commands(self, ctx: click.Context):
        return sorted(set(super().list_commands(ctx)) | set(self._plugin_commands()))

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
cli.add_command(eval_command)
cli.add_command(analyze_command)
cli.add_command(report_command)
cli.add_command(train_command)
cli.add_command(select_command)


def main() -> None:  # console-script target
    cli()
