"""``viq daemon``: watch the inbox and run jobs until SIGTERM/SIGINT."""

from __future__ import annotations

import typer

from viq_host.cli._common import err_console, settings


def register(app: typer.Typer) -> None:
    """Add the top-level ``daemon`` command."""

    @app.command("daemon")
    def daemon(
        poll: float = typer.Option(0.5, help="Seconds between inbox scans / executor polls.", min=0.05),
        max_running: int | None = typer.Option(
            None, help="Attempts in flight at once (default: setting max_running).", min=1
        ),
    ) -> None:
        """Watch the inbox, validate and queue job orders, run them, reconcile after a crash.

        Orders that do not validate go to HOME/rejected/ with a .reason file; finished ones to done/ or
        failed/. SIGTERM or SIGINT stops the intake; jobs on Grid Engine keep running and are adopted by the
        next start. SIGUSR1 writes every thread's stack to stderr (for a daemon that seems stuck).
        """
        import faulthandler
        import signal

        from viq_host.daemon import Daemon

        faulthandler.register(signal.SIGUSR1, all_threads=True)

        cfg = settings()
        d = Daemon(cfg, poll_seconds=poll, max_running=max_running)
        err_console.print(f"viq daemon: home {cfg.home}, inbox {cfg.inbox_dir}, executor {cfg.executor}")
        d.run()
        rec = d.reconciled
        if rec is not None:
            err_console.print(
                f"viq daemon: stopped (reconciled at start: {len(rec.watching)} watched, {len(rec.finished)} "
                f"finished, {len(rec.requeued)} requeued, {len(rec.failed)} failed; taken {d.taken}, "
                f"rejected {d.rejected}, duplicates {d.duplicates})"
            )
