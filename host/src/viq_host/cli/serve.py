"""``viq serve``: the HTTP API and the web page in one process; ``viq serve token``: API tokens."""

from __future__ import annotations

import getpass
import json
import socket
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from viq_host.cli._common import err_console, out_console, settings

if TYPE_CHECKING:
    from viq_host.api.store import ApiStore

app = typer.Typer(
    help="Serve the HTTP API and web page (no subcommand), or manage API tokens (`viq serve token …`).",
    invoke_without_command=True,
)
GRACE_SECONDS = 5
"""On shutdown, open requests (event streams of the jobs dashboard) get this long before they are cut."""
token_app = typer.Typer(help="API tokens: create (printed once), list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8080,
    runner: Annotated[
        str, typer.Option("--runner", help="thread: run queued jobs here; none: leave them to `viq daemon`.")
    ] = "thread",
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "warning",
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Server processes (one runs the job runner).")
    ] = 1,
    db_connections: Annotated[
        int,
        typer.Option("--db-connections", min=2, max=512,
                     help="PostgreSQL connections for requests, shared among the workers (at least 2 each)."),
    ] = 8,
) -> None:
    """Serve the API (OpenAPI at /docs and /openapi.json) and the page at / on the installation's database.

    With --runner thread (default) queued jobs run here, as `viq daemon` would run them; when a daemon already
    holds the installation, it keeps running them. With --workers N, N processes share the port; exactly one
    of them runs jobs (the installation's daemon lock) and another takes over if it dies.
    """
    if ctx.invoked_subcommand is not None:
        return
    if runner not in ("thread", "none"):
        raise typer.BadParameter("--runner must be thread or none")
    import os

    import uvicorn

    from viq_host.api.app import WORKER_ENV, create_app
    from viq_host.api.listen import ReusePortListener, reserve, reuse_port_supported
    from viq_host.api.runtime import pool_per_worker

    cfg = settings()
    pool = pool_per_worker(db_connections, workers)
    err_console.print(
        f"viq serve: http://{host}:{port}/ (home {cfg.home}, database {cfg.database_url.split('@')[-1]}, "
        f"{workers} worker{'s' if workers > 1 else ''})"
    )
    access_log = log_level in ("info", "debug")
    if workers == 1:
        application = create_app(cfg, runner="thread" if runner == "thread" else "none", pool_size=pool)
        uvicorn.run(application, host=host, port=port, log_level=log_level, access_log=access_log,
                    timeout_graceful_shutdown=GRACE_SECONDS)
        return
    # uvicorn spawns the workers (fresh interpreters): they read the same settings from the environment
    os.environ[WORKER_ENV] = json.dumps({"runner": runner, "pool_size": pool})
    cfg.ensure_dirs()
    app = "viq_host.api.app:worker_app"
    options: dict[str, Any] = {
        "factory": True, "workers": workers, "host": host, "port": port, "log_level": log_level,
        "access_log": access_log, "timeout_graceful_shutdown": GRACE_SECONDS,
    }
    if not reuse_port_supported():
        uvicorn.run(app, **options)
        return
    # as uvicorn.run does for workers > 1, except that each worker listens on a socket of its own (api/listen.py)
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(app, **options)
    try:
        held = reserve(host, port)
    except OSError as err:
        err_console.print(f"viq serve: cannot listen on {host}:{port}: {err}")
        raise typer.Exit(1) from err
    try:
        Multiprocess(config, sockets=[cast(socket.socket, ReusePortListener(host, port))]).run()
    except KeyboardInterrupt:
        pass
    finally:
        held.close()


def _store() -> ApiStore:
    from viq_host.api.store import ApiStore

    cfg = settings()
    cfg.ensure_dirs()
    return ApiStore(cfg.database_url)


@token_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who or what uses the token (letters, digits, _ . @ -).")],
    role: Annotated[str, typer.Option("--role", help="viewer, operator or admin.")] = "viewer",
) -> None:
    """Create a token and print it once (only its salted hash is stored)."""
    store = _store()
    try:
        token, record = store.create_token(name, role, created_by=f"cli:{getpass.getuser()}")
    finally:
        store.close()
    print(token)
    err_console.print(f"token {record.key} for {record.name} ({record.role.label}); it is not shown again")


@token_app.command("list")
def list_tokens(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List tokens (never their secrets)."""
    store = _store()
    try:
        records = store.tokens()
    finally:
        store.close()
    if as_json:
        print(json.dumps([r.to_dict() for r in records], indent=2))
        return
    table = Table(title="API tokens")
    for col in ("key", "name", "role", "created", "by", "revoked"):
        table.add_column(col)
    for r in records:
        table.add_row(r.key, r.name, r.role.label, f"{r.created:%Y-%m-%d %H:%M}", r.created_by,
                      f"{r.revoked:%Y-%m-%d %H:%M}" if r.revoked else "")
    out_console.print(table)


@token_app.command("revoke")
def revoke(key_or_name: Annotated[str, typer.Argument(help="Token key (8 hex digits) or name.")]) -> None:
    """Revoke a token (or every live token of a name)."""
    store = _store()
    try:
        revoked = store.revoke(key_or_name, by=f"cli:{getpass.getuser()}")
    finally:
        store.close()
    for r in revoked:
        out_console.print(f"revoked {r.key} ({r.name})", markup=False, highlight=False)


def register(root: typer.Typer) -> None:
    """Mount ``viq serve`` (a group whose callback serves when no subcommand is given)."""
    root.add_typer(app, name="serve")
