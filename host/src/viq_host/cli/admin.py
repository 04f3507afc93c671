"""``viq admin``: backup, restore and status of this installation."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from viq_host.cli._common import out_console, settings

app = typer.Typer(help="Back up, restore and inspect this installation.", no_args_is_help=True)
BACKUP_DIR = typer.Argument(..., help="New or empty directory for the backup.")
SOURCE_DIR = typer.Argument(..., help="A directory written by 'viq admin backup'.")


@app.command("backup")
def backup_cmd(directory: Path = BACKUP_DIR) -> None:
    """Consistent snapshot of the catalog, GIPP store, job store and the files they reference, with checksums."""
    from viq_host.admin.backup import backup

    manifest = backup(settings(), directory)
    size = sum(f.size for f in manifest.files)
    out_console.print(
        f"backup in {directory}: {manifest.backend} database, {manifest.products} products, {manifest.jobs} jobs, "
        f"{len(manifest.files)} files ({size} bytes)"
        + (f"; {len(manifest.missing)} catalogued path(s) missing on storage" if manifest.missing else ""),
        highlight=False,
    )


@app.command("restore")
def restore_cmd(directory: Path = SOURCE_DIR) -> None:
    """Verify every checksum, then restore onto this (fresh) installation: database, job store, files."""
    from viq_host.admin.backup import restore

    report = restore(settings(), directory)
    out_console.print(
        f"restored {report.products} products, {report.jobs} jobs, {report.files} files written "
        f"({report.skipped_identical} already in place, identical)",
        highlight=False,
    )


@app.command("verify")
def verify_cmd(directory: Path = SOURCE_DIR) -> None:
    """Check every checksum of a backup without restoring it."""
    from viq_host.admin.backup import verify

    manifest = verify(directory)
    out_console.print(f"backup {directory} is intact: {len(manifest.files) + 2} files checked", highlight=False)


@app.command("status")
def status_cmd(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Execution hosts, slots, queue, database, storage and daemon; exit code 1 when something is unhealthy."""
    from viq_host.admin.status import collect_status, render

    status = collect_status(settings())
    if as_json:
        out_console.print_json(json.dumps(status.to_dict()))
    else:
        out_console.print(render(status), highlight=False, markup=False)
    if not status.healthy:
        raise typer.Exit(1)
