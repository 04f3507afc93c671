"""Job routes: plan (inputs chosen from the catalog), validate and submit job orders (XML body), list, status,
logs, cancel, retry.

An uploaded order goes through the hardened reader the CLI uses (size limit, no DTD/entities, XSD) and the
same layered validation (processor, declaration, files inside the data roots). A submitted order is kept
under ``HOME/orders/api/`` and queued; the runner thread of ``viq serve`` (or a ``viq daemon``) runs it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from viq_host.api.auth import Operator, Viewer
from viq_host.api.errors import ERRORS
from viq_host.api.events import STREAM_SECONDS, event_stream, job_feed
from viq_host.jobs.model import JobOrder
from viq_host.jobs.reader import order_from_tree, parse_job_order_bytes
from viq_host.jobs.store import JobState, JobStoreError
from viq_host.jobs.xmlsafe import parse_xml_bytes
from viq_host.service import STDERR_FILE, STDOUT_FILE, JobService

router = APIRouter(prefix="/api/jobs", tags=["jobs"], responses=ERRORS)

JobId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.\-]{1,80}$", description="Job id.")]
XML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A job order: EEGS Job_Order or MMFI Ipf_Job_Order XML.",
        "content": {"application/xml": {"schema": {"type": "string"}}},
    }
}
MAX_LOG_BYTES = 1_048_576


async def order_bytes(request: Request) -> bytes:
    """The request body, refused with 413 beyond ``max_job_order_bytes`` (checked while reading)."""
    limit = request.app.state.runtime.settings.max_job_order_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"job order larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"job order larger than the limit of {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip():
        raise HTTPException(422, "empty body: send the job order XML as the request body")
    return data


OrderBytes = Annotated[bytes, Depends(order_bytes)]


def read_order(data: bytes, source: str, max_bytes: int, lenient: bool) -> tuple[JobOrder, list[str]]:
    """Parse uploaded bytes with the hardened reader; the order and any tolerated deviations (lenient MMFI)."""
    if not lenient:
        return parse_job_order_bytes(data, source, max_bytes=max_bytes), []
    report = order_from_tree(parse_xml_bytes(data, source, max_bytes=max_bytes), source, lenient=True)
    return report.order, report.describe_deviations()


def plan_of(service: JobService, order: JobOrder) -> dict[str, Any]:
    """Validate ``order`` and describe what would run (the JSON of ``viq job validate --json``)."""
    from viq_host.cli.job import plan_dict

    return plan_dict(service.validate(order))


class Submitted(BaseModel):
    """A queued job."""

    job_id: str = Field(description="Id of the new job.")
    state: str = Field(description="QUEUED.")
    plan: dict[str, Any] = Field(description="What will run (inputs, parameters, GIPPs, outputs).")


class PlanRequest(BaseModel):
    """A job to plan: the processor, the sensing window and where; inputs come from the catalog."""

    model_config = ConfigDict(extra="forbid")
    processor: str = Field(pattern=r"^[a-z0-9][a-z0-9_.\-]{0,63}$", description="Processor name.")
    version: str | None = Field(default=None, pattern=r"^\d{2}\.\d{2}$", description="Version (default latest).")
    start: datetime = Field(description="Sensing window start (UTC).")
    stop: datetime = Field(description="Sensing window end (UTC).")
    site: str | None = Field(default=None, max_length=64, description="Site name.")
    band: str | None = Field(default=None, pattern=r"^B\d{1,2}$", description="Only products of this band.")
    parameters: dict[str, str] = Field(default_factory=dict, max_length=100,
                                       description="Parameter values (as in a job order).")


@router.post("/plan", summary="Choose a job's inputs from the catalog by each port's selection rule")
def plan_job(caller: Viewer, body: PlanRequest) -> dict[str, Any]:
    """The products each input port's rule selects for the window, and the job order that names them (not
    stored: submit it with POST /api/jobs). 422 names the port a rule cannot satisfy."""
    from viq_host.jobs.build import build_job_order
    from viq_host.jobs.eegs import job_order_xml
    from viq_host.jobs.select import select_inputs

    rt = caller.runtime
    decl = rt.host.plugins.processors.get(body.processor, body.version).declaration
    selection = select_inputs(rt.catalog, decl, start=body.start, stop=body.stop, site=body.site, band=body.band)
    start, stop = selection.start, selection.stop  # in UTC (a time without a zone is read as UTC)
    order = build_job_order(decl, inputs=selection.inputs(), params=body.parameters, sensing=(start, stop),
                            site=body.site)
    return {
        "processor": decl.name, "version": decl.version, "start": start.isoformat(), "stop": stop.isoformat(),
        "site": body.site,
        "ports": [
            {"port": c.port, "rule": c.rule.value, "note": c.note,
             "products": [{"id": p.id, "product_type": p.product_type, "path": p.path, "site": p.site,
                           "sensing_start": p.sensing_start.isoformat() if p.sensing_start else None}
                          for p in c.products]}
            for c in selection.ports
        ],
        "job_order": job_order_xml(order).decode("utf-8"),
    }


class Reason(BaseModel):
    """Why (kept in the job's history and the audit trail)."""

    reason: str = Field(default="", max_length=500)


@router.post("/validate", summary="Validate a job order (nothing is stored)", openapi_extra=XML_BODY)
def validate(
    caller: Viewer,
    data: OrderBytes,
    lenient: Annotated[bool, Query(description="Tolerate MMFI schema deviations.")] = False,
) -> dict[str, Any]:
    """Every validation layer; 200 with the plan when valid, 422 with file:line and exit code when not."""
    rt = caller.runtime
    order, deviations = read_order(data, "<upload>", rt.settings.max_job_order_bytes, lenient)
    plan = rt.host_thread.call(lambda s: plan_of(s, order))
    plan["deviations"] = deviations
    plan["job_order"] = None
    return plan


@router.post(
    "", summary="Submit a job order", status_code=201, response_model=Submitted, openapi_extra=XML_BODY
)
def submit(
    caller: Operator,
    data: OrderBytes,
    priority: Annotated[int, Query(ge=-100, le=100)] = 0,
    lenient: Annotated[bool, Query(description="Tolerate MMFI schema deviations.")] = False,
) -> Submitted:
    """Validate and queue a job (operator). The order is kept under HOME/orders/api/."""
    rt = caller.runtime
    directory = rt.settings.home / "orders" / "api"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.xml"
    path.write_bytes(data)
    try:
        order, _ = read_order(data, str(path), rt.settings.max_job_order_bytes, lenient)

        def run(service: JobService) -> tuple[str, dict[str, Any]]:
            plan = plan_of(service, order)
            return service.submit(order, priority=priority), plan

        job_id, plan = rt.host_thread.call(run)
    except Exception as err:
        path.unlink(missing_ok=True)
        caller.audit("job.submit", "job:-", "refused", reason=str(err)[:500])
        raise
    caller.audit("job.submit", f"job:{job_id}", processor=plan["processor"], version=plan["version"],
                 priority=priority)
    return Submitted(job_id=job_id, state=JobState.QUEUED.value, plan=plan)


def job_rows(service: JobService, states: list[JobState] | None, limit: int) -> list[dict[str, Any]]:
    """Jobs with state, exit code, reason and progress of the last attempt (newest first)."""
    rows = []
    for r in service.list(states=states or None, limit=limit):
        attempts = service.jobs.attempts(r.id)
        last = attempts[-1] if attempts else None
        rows.append(
            {
                "job_id": r.id,
                "processor": r.processor,
                "version": r.version,
                "state": r.state.value,
                "exit_code": r.exit_code,
                "reason": r.reason,
                "created": r.created,
                "updated": r.updated,
                "priority": r.priority,
                "attempts": len(attempts),
                "progress": last.progress if last else None,
                "cancel_requested": r.cancel_requested,
            }
        )
    return rows


@router.get("", summary="List jobs, newest first")
def list_jobs(
    caller: Viewer,
    state: Annotated[list[JobState] | None, Query(description="Only these states (repeatable).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """Jobs with state, exit code, reason and progress of the last attempt."""
    return caller.runtime.host_thread.call(lambda service: job_rows(service, state, limit))


@router.get(
    "/events",
    summary="Live job list (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                     "description": "`event: jobs` with the JSON of GET /api/jobs?limit=… whenever it changes."}},
)
async def job_events(
    caller: Viewer,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    seconds: Annotated[float, Query(ge=1, le=STREAM_SECONDS, description="End the stream after this long.")]
    = STREAM_SECONDS,
) -> StreamingResponse:
    """A ``text/event-stream``: the job list at once, then again each time it changes (checked every second;
    one query per process however many clients listen), a comment line every 15 s to keep proxies open, and the
    end after ``seconds`` (clients reconnect). Authenticated by the ``Authorization`` header like every route
    (the page reads the stream with ``fetch``, so no token goes into a URL and no cookie is involved)."""
    feed = job_feed(caller.runtime)
    return StreamingResponse(
        event_stream(feed, limit, seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/{job_id}", summary="Status of a job")
def status(caller: Viewer, job_id: JobId) -> dict[str, Any]:
    """The job, its attempts, outputs and measurements, and its state transitions."""

    def run(service: JobService) -> dict[str, Any]:
        data = service.status(job_id).to_dict()
        data["transitions"] = [
            {"at": t.at, "from": t.from_state, "to": t.to_state, "reason": t.reason}
            for t in service.jobs.transitions(job_id)
        ]
        return data

    return caller.runtime.host_thread.call(run)


@router.get("/{job_id}/logs", summary="Log lines of an attempt")
def logs(
    caller: Viewer,
    job_id: JobId,
    attempt: Annotated[int | None, Query(ge=1, le=10_000, description="Attempt number (default: last).")] = None,
    raw: Annotated[bool, Query(description="The processor's stdout.log as text instead of parsed events.")] = False,
    stderr: Annotated[bool, Query(description="With raw: stderr.log instead.")] = False,
) -> Any:
    """ICD log events of an attempt (I/P/W/E), or its raw log (the last 1 MiB)."""

    def run(service: JobService) -> tuple[Any, FsPath]:
        service.jobs.job(job_id)
        attempts = service.jobs.attempts(job_id)
        if not attempts:
            raise HTTPException(404, f"job {job_id} has no attempt yet")
        chosen = attempts[-1] if attempt is None else next((a for a in attempts if a.number == attempt), None)
        if chosen is None:
            raise HTTPException(404, f"job {job_id} has no attempt {attempt}")
        events = [{"at": e.at, "level": e.level, "message": e.message} for e in service.jobs.events(chosen.id)]
        body = {"job_id": job_id, "attempt": chosen.number, "attempt_id": chosen.id, "events": events}
        return body, FsPath(chosen.work_dir) / (STDERR_FILE if stderr else STDOUT_FILE)

    body, path = caller.runtime.host_thread.call(run)
    if not raw:
        return body
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(0, size - MAX_LOG_BYTES))
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    return PlainTextResponse(text)


@router.post("/{job_id}/cancel", summary="Cancel a job")
def cancel(caller: Operator, job_id: JobId, body: Reason | None = None) -> dict[str, Any]:
    """At once when queued; a running attempt is asked to stop (operator)."""
    reason = (body.reason if body else "") or f"cancelled by {caller.actor}"
    try:
        record = caller.runtime.host_thread.call(lambda s: s.cancel(job_id, reason))
    except JobStoreError as err:
        caller.audit("job.cancel", f"job:{job_id}", "refused", reason=str(err))
        raise
    caller.audit("job.cancel", f"job:{job_id}", state=record.state.value, reason=reason)
    return {"job_id": record.id, "state": record.state.value, "cancel_requested": record.cancel_requested}


@router.post("/{job_id}/retry", summary="Queue a failed or cancelled job again")
def retry(caller: Operator, job_id: JobId, body: Reason | None = None) -> dict[str, Any]:
    """FAILED or CANCELLED → QUEUED (operator); the runner makes a new attempt."""
    reason = (body.reason if body else "") or f"retry requested by {caller.actor}"
    try:
        record = caller.runtime.host_thread.call(lambda s: s.retry(job_id, reason))
    except JobStoreError as err:
        caller.audit("job.retry", f"job:{job_id}", "refused", reason=str(err))
        raise
    caller.audit("job.retry", f"job:{job_id}", reason=reason)
    return {"job_id": record.id, "state": record.state.value}
