"""``viq job validate|submit|plan|status|list|logs|cancel|retry``: job orders and the jobs they become.

``validate`` never writes anything; ``submit`` stores the job (QUEUED) and, with ``--wait``, runs it here
through the configured executor with a progress display (without ``--wait`` the daemon runs it).
Exit codes follow the ICD: a rejected order exits with its error's code, a waited-for job with its own.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from viq_host.cli._common import err_console, out_console, pairs, settings
from viq_host.config import Settings
from viq_host.jobs.reader import read_job_order
from viq_host.jobs.store import JobRecord, JobState, JobStoreError
from viq_host.jobs.validate import ValidatedJob, plan, validate_job_order
from viq_host.service import STDERR_FILE, STDOUT_FILE, JobService, ProgressEvent, quiet_plugins
from viq_interfaces.errors import ConfigurationError, InvalidJobOrder

app = typer.Typer(help="Job orders and jobs: validate, submit, watch, cancel, retry.", no_args_is_help=True)


def _service(s: Settings | None = None) -> JobService:
    """The job service of this installation, cataloguing outputs and resolving GIPPs in force."""
    from viq_host.host import open_service

    return open_service(s or settings(), plugins=quiet_plugins())


def plan_dict(validated: ValidatedJob) -> dict[str, Any]:
    """JSON form of a validated job (``viq job validate --json``)."""
    order, decl = validated.order, validated.declaration
    return {
        "valid": True,
        "processor": decl.name,
        "version": decl.version,
        "task": decl.task_name or decl.name,
        "job_order": str(order.source) if order.source else None,
        "dialect": order.dialect,
        "sensing_start": order.sensing_start.isoformat() if order.sensing_start else None,
        "sensing_stop": order.sensing_stop.isoformat() if order.sensing_stop else None,
        "inputs": {
            port: [{"path": str(p.path), "product_type": p.product_type} for p in products]
            for port, products in validated.inputs.items()
        },
        "params": validated.params.model_dump(mode="json"),
        "gipps": {
            gtype: [{"path": str(g.path), "version": g.version} for g in found]
            for gtype, found in validated.gipps.items()
        },
        "outputs": [{"port": o.name, "product_type": o.product_type, "format": o.format} for o in decl.outputs],
        "resources": json.loads(decl.resources.model_dump_json()),
        "warnings": list(validated.warnings),
    }


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="Job order (EEGS Job_Order or MMFI Ipf_Job_Order).")],
    lenient: Annotated[bool, typer.Option("--lenient", help="Tolerate MMFI schema deviations (warn).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan (or the error) as JSON.")] = False,
) -> None:
    """Check a job order layer by layer (XML, schema, declaration, files) and print what would run."""
    s = settings()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            order = read_job_order(file, max_bytes=s.max_job_order_bytes, lenient=lenient)
            validated = validate_job_order(order, quiet_plugins(), s)
    except InvalidJobOrder as err:
        if as_json:
            print(json.dumps({"valid": False, "error": err.describe(), "exit_code": err.exit_code,
                              "source": err.source, "line": err.line, "field": err.field}))
            err_console.print(f"viq: error: {err.describe()}", markup=False, highlight=False)
            raise SystemExit(err.exit_code) from err
        raise
    deviations = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
    if as_json:
        data = plan_dict(validated)
        data["deviations"] = deviations
        print(json.dumps(data, indent=2))
        return
    for line in deviations:
        err_console.print(f"viq: warning: {line}", markup=False, highlight=False)
    print(plan(validated), end="")
    print("valid")


class Display:
    """Progress of waited-for jobs: a live bar per job on a terminal, plain state lines otherwise (stderr)."""

    def __init__(self, job_ids: Sequence[str], labels: dict[str, str]) -> None:
        self.labels = labels
        self.live = err_console.is_terminal
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._job_ids = list(job_ids)

    @contextmanager
    def running(self) -> Iterator[Display]:
        if not self.live:
            yield self
            return
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=err_console,
            transient=False,
        )
        with self._progress:
            for jid in self._job_ids:
                self._tasks[jid] = self._progress.add_task(self._describe(jid, "QUEUED"), total=100.0, note="")
            yield self

    def _describe(self, job_id: str, state: str) -> str:
        return f"{job_id} {self.labels.get(job_id, '')} [{state}]"

    def __call__(self, event: ProgressEvent) -> None:
        if self._progress is not None and event.job_id in self._tasks:
            task = self._tasks[event.job_id]
            if event.kind == "progress" and event.percent is not None:
                self._progress.update(task, completed=event.percent, note=event.message[:40])
            elif event.kind == "state" and event.state:
                done = event.state in {s.value for s in JobState if s.terminal}
                self._progress.update(
                    task,
                    description=self._describe(event.job_id, event.state),
                    completed=100.0 if event.state in ("SUCCEEDED", "WARNING") else None,
                    note=event.message[:60] if done else "",
                )
            elif event.kind == "log" and event.level in ("W", "E"):
                self._progress.console.print(f"{event.job_id} [{event.level}] {event.message}", markup=False)
            return
        if event.kind == "state" and event.attempt_id is None and event.state:  # job-level states only
            note = f": {event.message}" if event.message and event.state != "RUNNING" else ""
            err_console.print(f"job {event.job_id} {event.state}{note}", markup=False, highlight=False)
        elif event.kind == "log" and event.level == "W":
            err_console.print(f"job {event.job_id} [W] {event.message}", markup=False, highlight=False)


def wait_for(service: JobService, job_ids: Sequence[str]) -> dict[str, JobRecord]:
    """Run ``job_ids`` to the end with a progress display on stderr."""
    labels = {j: f"{service.jobs.job(j).processor}" for j in job_ids}
    display = Display(job_ids, labels)
    with display.running():
        return service.run_until_done(job_ids, progress=display)


def _final(record: JobRecord) -> None:
    code = record.exit_code if record.exit_code is not None else 0
    line = f"job {record.id} {record.state} (exit {code})"
    if record.reason:
        line += f": {record.reason}"
    out_console.print(line, markup=False, highlight=False)
    if code:
        raise SystemExit(code)  # not typer.Exit: run_app drops its code


@app.command("submit")
def submit(
    file: Annotated[Path, typer.Argument(help="Job order to submit.")],
    wait: Annotated[bool, typer.Option("--wait", help="Run the job here and wait for it.")] = False,
    priority: Annotated[int, typer.Option("--priority", help="Higher runs first.")] = 0,
    lenient: Annotated[bool, typer.Option("--lenient", help="Tolerate MMFI schema deviations.")] = False,
) -> None:
    """Validate and store a job (QUEUED); with --wait run it now and exit with its exit code."""
    with _service() as service:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            job_id = service.submit(file, priority=priority, lenient=lenient)
        if not wait:
            out_console.print(f"{job_id}", markup=False, highlight=False)
            err_console.print(f"job {job_id} queued (the daemon runs it; `viq job submit --wait` runs it here)")
            return
        err_console.print(f"job {job_id} submitted", markup=False, highlight=False)
        records = wait_for(service, [job_id])
        _final(records[job_id])


@app.command("status")
def status(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a job, its attempts, outputs and measurements."""
    with _service() as service:
        st = service.status(job_id)
    if as_json:
        print(json.dumps(st.to_dict(), indent=2))
        return
    job = st.job
    out_console.print(f"[bold]{job.id}[/bold]  {job.processor} {job.version}  {job.state}", highlight=False)
    out_console.print(f"created {job.created}  updated {job.updated}  exit {job.exit_code}", highlight=False)
    if job.reason:
        out_console.print(f"reason: {job.reason}", markup=False, highlight=False)
    if job.cancel_requested and not job.state.terminal:
        out_console.print("cancel requested")
    table = Table(title="attempts")
    for col in ("#", "attempt", "state", "exit", "started", "ended", "reason"):
        table.add_column(col)
    for a in st.attempts:
        table.add_row(str(a.number), a.id, a.state.value, "" if a.exit_code is None else str(a.exit_code),
                      a.started or "", a.ended or "", a.reason)
    out_console.print(table)
    data = st.to_dict()
    for out in data["outputs"]:
        out_console.print(f"output {out['port']} {out['product_type']} {out['path']}", markup=False, highlight=False)
    for key, value in data["measurements"].items():
        out_console.print(f"measurement {key} = {value:g}", markup=False, highlight=False)


@app.command("list")
def list_jobs(
    state: Annotated[list[JobState] | None, typer.Option("--state", help="Only jobs in this state (repeatable).")]
    = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (newest first).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List jobs, newest first."""
    with _service() as service:
        records = service.list(states=state or None, limit=limit)
    if as_json:
        print(json.dumps([{"job_id": r.id, "processor": r.processor, "version": r.version, "state": r.state.value,
                           "exit_code": r.exit_code, "created": r.created, "reason": r.reason} for r in records],
                         indent=2))
        return
    if not records:
        out_console.print("no jobs")
        return
    table = Table(title="jobs")
    for col in ("job", "processor", "version", "state", "exit", "created", "reason"):
        table.add_column(col)
    for r in records:
        table.add_row(r.id, r.processor, r.version, r.state.value, "" if r.exit_code is None else str(r.exit_code),
                      r.created, r.reason[:80])
    out_console.print(table)


@app.command("logs")
def logs(
    job_id: Annotated[str, typer.Argument(help="Job id.")],
    attempt: Annotated[int | None, typer.Option("--attempt", help="Attempt number (default: the last).")] = None,
    stderr: Annotated[bool, typer.Option("--stderr", help="Show the processor's stderr instead.")] = False,
) -> None:
    """Print the processor log (stdout.log: ICD lines) of an attempt."""
    with _service() as service:
        service.jobs.job(job_id)  # unknown id → one-line error
        attempts = service.jobs.attempts(job_id)
    if not attempts:
        raise JobStoreError(f"job {job_id} has no attempt yet")
    chosen = attempts[-1] if attempt is None else next((a for a in attempts if a.number == attempt), None)
    if chosen is None:
        raise JobStoreError(f"job {job_id} has no attempt {attempt} (attempts: 1..{len(attempts)})")
    path = Path(chosen.work_dir) / (STDERR_FILE if stderr else STDOUT_FILE)
    if not path.is_file():
        raise JobStoreError(f"attempt {chosen.number} of job {job_id} has no log ({path})")
    typer.echo(path.read_text(encoding="utf-8", errors="replace"), nl=False)


@app.command("cancel")
def cancel(job_id: Annotated[str, typer.Argument(help="Job id.")]) -> None:
    """Cancel a job: at once when queued, else the running attempt is asked to stop."""
    with _service() as service:
        record = service.cancel(job_id)
    what = "cancelled" if record.state is JobState.CANCELLED else "cancel requested"
    out_console.print(f"job {record.id} {what} ({record.state})", markup=False, highlight=False)


@app.command("retry")
def retry(
    job_id: Annotated[str, typer.Argument(help="Job id (FAILED or CANCELLED).")],
    wait: Annotated[bool, typer.Option("--wait", help="Run the job here and wait for it.")] = False,
) -> None:
    """Queue a failed or cancelled job again; with --wait run it now."""
    with _service() as service:
        record = service.retry(job_id)
        if not wait:
            out_console.print(f"job {record.id} {record.state}", markup=False, highlight=False)
            return
        records = wait_for(service, [job_id])
        _final(records[job_id])


def _when(option: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise ConfigurationError(f"{option}: not an ISO-8601 time: {value!r} (e.g. 2020-03-01 or 2020-03-01T10:00Z)") \
            from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("plan")
def plan_job(
    processor: Annotated[str, typer.Argument(help="Processor name (see `viq processors list`).")],
    start: Annotated[str, typer.Option("--from", help="Sensing window start, ISO time (UTC).")],
    stop: Annotated[str, typer.Option("--to", help="Sensing window end, ISO time (UTC).")],
    site: Annotated[str | None, typer.Option("--site", help="Site name (VENµS site list).")] = None,
    band: Annotated[str | None, typer.Option("--band", help="Only products of this band.")] = None,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="PORT=PATH: name a port's files (no selection).")
    ] = None,
    params: Annotated[list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE (repeatable).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Processor version (default: latest).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the job order to this file.")] = None,
    submit_it: Annotated[bool, typer.Option("--submit", help="Submit the job order (the daemon runs it).")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With --submit: run it here and wait.")] = False,
) -> None:
    """Choose the inputs of a job from the catalog by each port's selection rule; write or submit the order."""
    from viq_host.host import open_host
    from viq_host.jobs.build import build_job_order
    from viq_host.jobs.eegs import write_job_order
    from viq_host.jobs.select import select_inputs

    t0, t1 = _when("--from", start), _when("--to", stop)
    explicit: dict[str, list[Path]] = {}
    for port, raw in pairs(inputs or [], "--input"):
        explicit.setdefault(port, []).append(Path(raw).expanduser().absolute())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        host = open_host(settings(), plugins=quiet_plugins())
    with host:
        decl = host.plugins.processors.get(processor, version).declaration
        selection = select_inputs(host.catalog, decl, start=t0, stop=t1, site=site, band=band, explicit=explicit)
        table = Table(title=f"{decl.name} {decl.version}: inputs for {t0.isoformat()} – {t1.isoformat()}"
                      + (f", site {site}" if site else ""))
        for col in ("port", "rule", "products"):
            table.add_column(col)
        for port, files in explicit.items():
            table.add_row(port, "named", "\n".join(str(f) for f in files))
        for chosen in selection.ports:
            listed = "\n".join(f"{p.id} {Path(p.path).name}" for p in chosen.products) or chosen.note
            table.add_row(chosen.port, chosen.rule.value, listed)
        err_console.print(table)
        order = build_job_order(decl, inputs=selection.inputs(explicit), params=dict(pairs(params or [], "--param")),
                                sensing=(t0, t1), site=site)
        if out is not None:
            write_job_order(order, out)
            err_console.print(f"job order written to {out}", markup=False, highlight=False)
        if not submit_it:
            return
        job_id = host.service.submit(order)
        out_console.print(job_id, markup=False, highlight=False)
        if wait:
            _final(wait_for(host.service, [job_id])[job_id])
