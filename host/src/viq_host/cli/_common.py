"""Shared CLI plumbing: the error boundary (one line for people, traceback only with --debug)."""

from __future__ import annotations

import os
import sys
import traceback

import typer
from rich.console import Console

from viq_host.config import Settings, load_settings
from viq_interfaces.errors import ConfigurationError, InvalidJobOrder, ViqError
from viq_interfaces.exitcodes import ExitCode, exit_code_for

err_console = Console(stderr=True)
out_console = Console()


def settings() -> Settings:
    """Settings of this invocation (``VIQ_HOME`` and friends)."""
    return load_settings()


def pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` options (``--input``, ``--param``) as pairs; a malformed one is a configuration error."""
    found: list[tuple[str, str]] = []
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"{what} {item!r}: expected NAME=VALUE")
        found.append((key.strip(), value))
    return found


def run_app(app: typer.Typer) -> int:
    """Run the typer app; map VIQ errors to one line on stderr and their exit code."""
    argv = sys.argv[1:]
    debug = "--debug" in argv or bool(os.environ.get("VIQ_DEBUG"))
    if "--debug" in argv:
        argv = [a for a in argv if a != "--debug"]
    try:
        code = app(args=argv, prog_name="viq", standalone_mode=False)
        if isinstance(code, int):  # ``raise typer.Exit(n)`` returns n when not in standalone mode
            return code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("viq: interrupted")
        return 130
    except ViqError as exc:
        if debug:
            traceback.print_exc()
        msg = exc.describe() if isinstance(exc, InvalidJobOrder) else str(exc)
        err_console.print(f"viq: error: {msg}", markup=False, highlight=False)
        return int(exit_code_for(exc))
    except Exception as exc:  # the outermost boundary: internal error, its own exit code
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        if debug:
            traceback.print_exc()
        err_console.print(
            f"viq: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
            markup=False,
            highlight=False,
        )
        return int(ExitCode.INTERNAL_ERROR)
    return 0
