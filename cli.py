"""Command line for the error-contract harness.

    python cli.py simulate-retry   # replay failures through each retry policy on a virtual clock
    python cli.py check-errors     # prove an app keeps the JSON error contract

Each command lives in its own module under ``src/cli`` and is imported only when it
runs (or when its help is shown), so ``python cli.py --help`` stays fast: neither
``anthropic`` nor ``flask`` is imported to print it.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

import click

#: command name -> "module:attribute" of its click command.
COMMANDS: dict[str, str] = {
    "simulate-retry": "src.cli.simulate_retry:simulate_retry",
    "check-errors": "src.cli.check_errors:check_errors",
}


class _LazyGroup(click.Group):
    """A group that imports a command's module only when the command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a wiring mistake
            raise TypeError(f"{target} is not a click command")
        return command

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


@contextlib.contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    """Bad input gets one line, ``Error: ...``, and exit code 2: no usage block above it."""
    try:
        yield
    except click.UsageError as error:
        error.ctx = None  # without a context, click prints only the "Error:" line
        raise


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="error-contract-harness")
def cli() -> None:
    """Retry policies and a JSON error contract for Flask services that call AI APIs."""


if __name__ == "__main__":
    cli()
