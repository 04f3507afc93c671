"""The ``viq`` admin command. Each group lives in its own module ``viq_host.cli.<group>``."""

from __future__ import annotations

import importlib
import sys

import typer

from viq_host.cli._common import run_app

app = typer.Typer(
    name="viq",
    help="VIQ — the image-quality centre for VENµS: processors, jobs, catalog, GIPPs, monitoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# (module, group name or "" for top-level commands). Each module exposes ``app`` (a group) or
# ``register(app)`` (top-level commands).
GROUPS: tuple[tuple[str, str], ...] = (
    ("config", "config"),
    ("processors", "processors"),
    ("job", "job"),
    ("run", ""),
    ("demo", ""),
    ("catalog", "catalog"),
    ("gipp", "gipp"),
    ("iq", "iq"),
    ("report", "report"),
    ("daemon", ""),
    ("serve", ""),
    ("admin", "admin"),
)


def _mount() -> None:
    for module_name, group in GROUPS:
        try:
            module = importlib.import_module(f"viq_host.cli.{module_name}")
        except ModuleNotFoundError as err:
            if err.name == f"viq_host.cli.{module_name}":
                continue  # group not built yet
            raise
        if group:
            app.add_typer(module.app, name=group)
        else:
            module.register(app)


_mount()


def main() -> None:
    """Entry point of ``viq``."""
    sys.exit(run_app(app))
