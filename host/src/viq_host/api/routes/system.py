"""Session, health, processors (declarations, task tables), the API audit trail and token listing."""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from viq_host.api.auth import Admin, Viewer, csrf_token
from viq_host.api.errors import ERRORS
from viq_host.jobs.tasktable import task_table_xml
from viq_host.plugins import ProcessorEntry

router = APIRouter(prefix="/api", responses=ERRORS)

ProcessorName = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Version = Annotated[str | None, Query(max_length=16, pattern=r"^\d{2}\.\d{2}$")]


@router.get("/health", tags=["system"], summary="Liveness (no token needed)")
def health(request: Request) -> dict[str, Any]:
    """``ok`` and the state of the job runner (running, external, disabled, failed: …)."""
    rt = request.app.state.runtime
    return {"status": "ok", "runner": rt.runner.state}


@router.get("/session", tags=["system"], summary="Who am I; the CSRF token for writes")
def session(request: Request, caller: Viewer) -> dict[str, Any]:
    """The token's name and role, and the value to send as ``X-CSRF-Token`` with every write."""
    return {
        "name": caller.token.name,
        "role": caller.token.role.label,
        "key": caller.token.key,
        "csrf_token": csrf_token(request.app.state.secret, caller.token),
        "runner": caller.runtime.runner.state,
        "worker_pid": os.getpid(),
        "max_job_order_bytes": caller.runtime.settings.max_job_order_bytes,
    }


@router.get("/audit", tags=["system"], summary="API audit trail (every write), newest first")
def api_audit(
    caller: Viewer,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=80)] = None,
) -> list[dict[str, Any]]:
    """Who wrote what through the API (and the CLI's token changes), with the outcome."""
    rows = caller.runtime.store.audit_trail(limit=limit, before=before, action=action, actor=actor)
    return [r.to_dict() for r in rows]


@router.get("/tokens", tags=["system"], summary="API tokens (admin; never their secrets)")
def tokens(caller: Admin) -> list[dict[str, Any]]:
    """Every token with name, role, creation and revocation."""
    return [t.to_dict() for t in caller.runtime.store.tokens()]


def _entry(e: ProcessorEntry) -> dict[str, Any]:
    return {
        "name": e.name,
        "version": e.version,
        "status": e.status,
        "plugin": e.plugin,
        "description": e.description,
        "reason": e.reason,
    }


@router.get("/processors", tags=["processors"], summary="Installed processors")
def processors(caller: Viewer) -> list[dict[str, Any]]:
    """Name, version, status (enabled/disabled), plugin and description or reason."""
    return [_entry(e) for e in caller.runtime.plugins.processors.entries()]


@router.get("/processors/{name}", tags=["processors"], summary="A processor's declaration")
def declaration(caller: Viewer, name: ProcessorName, version: Version = None) -> dict[str, Any]:
    """Ports, parameters (JSON schema and table), GIPPs, resources and retry policy."""
    from viq_host.cli.processors import declaration_dict

    cls = caller.runtime.plugins.processors.get(name, version)
    return declaration_dict(cls)


@router.get(
    "/processors/{name}/task-table",
    tags=["processors"],
    summary="A processor's Task Table XML",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}},
)
def task_table(caller: Viewer, name: ProcessorName, version: Version = None) -> Response:
    """The declaration exported as Task Table XML (schemas/task_table.xsd)."""
    cls = caller.runtime.plugins.processors.get(name, version)
    return Response(task_table_xml(cls), media_type="application/xml")
