"""The `kiosk` command: `kiosk [--config PATH] SUBCOMMAND`.

Exit codes: 0 success, 1 a failed operation, 2 bad usage or bad configuration.
"""

from __future__ import annotations

import sys

import click

from kiosk import config as config_mod
from kiosk.cli.context import StationContext
from kiosk.cli.core import check_config, demo, init, serve

COMMAND_MODULES = ("kiosk.cli.orders", "kiosk.cli.devices", "kiosk.cli.staff",
                   "kiosk.cli.labels", "kiosk.cli.privacy", "kiosk.cli.ops", "kiosk.cli.ils",
                   "kiosk.cli.offers", "kiosk.speech.cli")


def hoist_config(args: list[str]) -> list[str]:
    """Return args with every `--config PATH` / `--config=PATH` moved to the front.

    So `kiosk import FILE --config PATH` means `kiosk --config PATH import FILE`;
    anything after `--` is left as it is.
    """
    moved: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg == "--config" and i + 1 < len(args):
            moved += args[i:i + 2]
            i += 2
            continue
        (moved if arg.startswith("--config=") else rest).append(arg)
        i += 1
    return moved + rest


class StationGroup(click.Group):
    """The `kiosk` group: `--config PATH` before or after the subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_config(args))


@click.group(cls=StationGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kiosk", prog_name="kiosk", message="%(prog)s %(version)s")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              envvar=config_mod.ENV_VAR,
              help="Station configuration (TOML); also accepted after the subcommand.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Takeaway pickup station for public libraries."""
    ctx.obj = StationContext(config_path)


CONFIG_EPILOG = ("Every command also takes --config PATH (before or after the command name), "
                 "or reads the file named by KIOSK_CONFIG.")


def _add(command: click.Command) -> None:
    # click shows a group's options only in the group's help; say it on each command's too.
    command.epilog = f"{command.epilog}\n\n{CONFIG_EPILOG}" if command.epilog else CONFIG_EPILOG
    cli.add_command(command)


for command in (init, serve, demo, check_config):
    _add(command)


def _add_optional_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        for command in module.COMMANDS:
            _add(command)


_add_optional_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    try:
        cli.main(args=argv, prog_name="kiosk", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
