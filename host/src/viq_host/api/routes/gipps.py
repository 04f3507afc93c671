"""GIPP routes: list, show, history, diff, audit; attach evidence, promote (with evidence), retire.

Promotion goes through :meth:`GippStore.promote`, which refuses without an attached validation result (or
with a failed one) and records who, when and why. An API token with the operator role acts as the store
operator ``api:<token name>``; the store role is granted to that name on its first write, recorded in the
store's own audit trail.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from viq_host.api.auth import Caller, Operator, Viewer
from viq_host.api.errors import ERRORS
from viq_host.gipp.diff import diff_gipps
from viq_host.gipp.models import AuditEntry, GippRecord, GippStatus, ValidationResult
from viq_host.gipp.store import GippStore

router = APIRouter(prefix="/api/gipps", tags=["gipps"], responses=ERRORS)

GippId = Annotated[int, Path(ge=1, le=2**62, description="Store id of the GIPP.")]
TypeCode = Annotated[str | None, Query(max_length=10, pattern=r"^[A-Z0-9]{3}_[A-Z0-9]{6}$")]
BandCode = Annotated[str | None, Query(max_length=3, pattern=r"^B\d\d$")]


def record_dict(record: GippRecord) -> dict[str, Any]:
    """JSON form of a GIPP record, with its VENµS file name and file class."""
    data: dict[str, Any] = record.model_dump(mode="json")
    data["file_name"] = record.file_name
    data["file_class"] = record.file_class
    return data


def _validation(v: ValidationResult) -> dict[str, Any]:
    data: dict[str, Any] = v.model_dump(mode="json", exclude={"evidence_path"})
    return data


def _audit(entries: list[AuditEntry]) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in entries]


class Evidence(BaseModel):
    """A validation result: one metric measured with the candidate applied."""

    metric: str = Field(min_length=1, max_length=100, description="Metric name, e.g. residual_striping.")
    value: float = Field(allow_inf_nan=False, description="Measured value.")
    threshold: float | None = Field(default=None, allow_inf_nan=False, description="Acceptance threshold.")
    passed: bool | None = Field(default=None, description="Verdict; default value ≤ threshold when one is given.")
    note: str = Field(default="", max_length=2000, description="Where the value comes from (job, report).")


class Promotion(BaseModel):
    """A promotion request: target status, reason and (optionally) the evidence to attach first."""

    to: GippStatus = Field(description="TEST or OPER (one step up).")
    reason: str = Field(min_length=1, max_length=2000, description="Why (recorded in the audit trails).")
    evidence: Evidence | None = Field(default=None, description="A validation result attached before promoting.")
    expected_revision: int | None = Field(
        default=None, ge=0, le=2**31, description="Series revision read by the client; a change meanwhile → 409."
    )


class Retirement(BaseModel):
    """Why a GIPP is retired."""

    reason: str = Field(min_length=1, max_length=2000)


def _as_store_operator(caller: Caller, store: GippStore) -> str:
    actor = caller.actor
    if not store.has_role(actor):
        why = f"API token {caller.token.key} has role {caller.token.role.label}"
        store.grant_role(actor, by="viq-serve", reason=why)
    return actor


@router.get("", summary="List GIPPs")
def list_gipps(
    caller: Viewer, type: TypeCode = None, status: GippStatus | None = None, band: BandCode = None
) -> list[dict[str, Any]]:
    """GIPPs filtered by type, status and band, oldest first."""
    return [record_dict(r) for r in caller.runtime.host.gipps.find(type, status, band)]


@router.get("/types", summary="GIPP types known to this installation")
def types(caller: Viewer) -> list[str]:
    """Type codes with a registered content model."""
    return caller.runtime.host.gipps.known_types()


@router.get("/history", summary="Versions that were or are OPER for a type/band/TDI/site")
def history(
    caller: Viewer,
    type: Annotated[str, Query(max_length=10, pattern=r"^[A-Z0-9]{3}_[A-Z0-9]{6}$")],
    band: BandCode = None,
    tdi: Annotated[int | None, Query(ge=1, le=64)] = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
) -> list[dict[str, Any]]:
    """The OPER history by validity start (validity as closed by later promotions)."""
    return [record_dict(r) for r in caller.runtime.host.gipps.history(type, band=band, tdi=tdi, site=site)]


@router.get("/in-force", summary="The GIPP in force for a type, band, TDI, site and time")
def in_force(
    caller: Viewer,
    type: Annotated[str, Query(max_length=10, pattern=r"^[A-Z0-9]{3}_[A-Z0-9]{6}$")],
    band: BandCode = None,
    tdi: Annotated[int | None, Query(ge=1, le=64)] = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One GIPP (404 when none applies, 409 when several would)."""
    return record_dict(caller.runtime.host.gipps.in_force(type, band=band, tdi=tdi, site=site, at=at))


@router.get("/audit", summary="The GIPP store's audit trail")
def store_audit(caller: Viewer, limit: Annotated[int, Query(ge=1, le=5000)] = 200) -> list[dict[str, Any]]:
    """Every recorded action on the store (newest ``limit``), oldest first."""
    return _audit(caller.runtime.host.gipps.audit(limit=limit))


@router.get("/{gipp_id}", summary="One GIPP: record, evidence, audit")
def show(
    caller: Viewer,
    gipp_id: GippId,
    content: Annotated[bool, Query(description="Include the content (arrays restored).")] = False,
) -> dict[str, Any]:
    """The record, its validation results, series revision and audit entries (and content on request)."""
    store = caller.runtime.host.gipps
    data = record_dict(store.get(gipp_id))
    data["validations"] = [_validation(v) for v in store.validations(gipp_id)]
    data["revision"] = store.series_revision(gipp_id)
    data["audit"] = _audit(store.audit(gipp_id))
    if content:
        data["content"] = store.content_data(gipp_id)
    return data


@router.get("/{gipp_id}/audit", summary="Audit trail of one GIPP")
def audit(caller: Viewer, gipp_id: GippId) -> list[dict[str, Any]]:
    """Who did what to this GIPP, when and why, oldest first."""
    store = caller.runtime.host.gipps
    store.get(gipp_id)
    return _audit(store.audit(gipp_id))


@router.get("/{gipp_id}/diff/{other_id}", summary="Compare two GIPP versions")
def diff(caller: Viewer, gipp_id: GippId, other_id: GippId) -> dict[str, Any]:
    """Header and content changes from ``gipp_id`` (reference) to ``other_id``; statistics of array differences."""
    d = diff_gipps(caller.runtime.host.gipps, gipp_id, other_id)
    return {
        "a": gipp_id,
        "b": other_id,
        "identical": d.identical,
        "header": [{"field": f, "a": a, "b": b} for f, a, b in d.header],
        "changed": [{"path": p, "a": a, "b": b} for p, a, b in d.changed],
        "added": d.added,
        "removed": d.removed,
        "arrays": [
            {
                "path": a.path,
                "length": a.length,
                "changed": a.changed,
                "mean": a.mean,
                "std": a.std,
                "min": a.min,
                "max": a.max,
                "rms": a.rms,
                "max_abs_relative": a.max_abs_relative,
            }
            for a in d.arrays
        ],
    }


@router.get(
    "/{gipp_id}/diff/{other_id}/plot.png",
    summary="Per-element difference of one array, as a PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def diff_plot(
    caller: Viewer, gipp_id: GippId, other_id: GippId, array: Annotated[str, Query(max_length=300)]
) -> Response:
    """``other - gipp`` per element (e.g. per detector) of the array at ``array`` (a path from the diff)."""
    d = diff_gipps(caller.runtime.host.gipps, gipp_id, other_id)
    found = next((a for a in d.arrays if a.path == array), None)
    if found is None:
        raise HTTPException(404, f"no array {array!r} in both GIPPs")
    from viq_host.monitoring.report import _plt

    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.2))
    ax.plot(range(found.length), found.difference, lw=0.6, color="#0b5394")
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("index (detector)")
    ax.set_ylabel(f"#{other_id} - #{gipp_id}")
    ax.set_title(f"{found.path}: mean {found.mean:.4g}, std {found.std:.4g}, rms {found.rms:.4g}", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return Response(buf.getvalue(), media_type="image/png")


@router.post("/{gipp_id}/validations", summary="Attach evidence (a validation result)", status_code=201)
def attach(caller: Operator, gipp_id: GippId, evidence: Evidence) -> dict[str, Any]:
    """Attach a validation result to a GIPP (operator)."""
    store = caller.runtime.host.gipps
    try:
        result = store.attach_validation(
            gipp_id,
            metric=evidence.metric,
            value=evidence.value,
            threshold=evidence.threshold,
            passed=evidence.passed,
            note=evidence.note,
            actor=caller.actor,
        )
    except Exception as err:
        caller.audit("gipp.validate", f"gipp:{gipp_id}", "refused", reason=str(err)[:500])
        raise
    caller.audit("gipp.validate", f"gipp:{gipp_id}", metric=result.metric, value=result.value, passed=result.passed)
    return _validation(result)


@router.post("/{gipp_id}/promote", summary="Promote a GIPP one step (with evidence)")
def promote(caller: Operator, gipp_id: GippId, body: Promotion) -> dict[str, Any]:
    """CANDIDATE → TEST → OPER (operator). Refused (409) without evidence, with failed evidence, on an
    overlapping OPER version or when the series changed since ``expected_revision``."""
    store = caller.runtime.host.gipps
    target = f"gipp:{gipp_id}"
    try:
        store.get(gipp_id)
        operator = _as_store_operator(caller, store)
        if body.evidence is not None:
            ev = body.evidence
            store.attach_validation(
                gipp_id, metric=ev.metric, value=ev.value, threshold=ev.threshold, passed=ev.passed,
                note=ev.note, actor=operator,
            )
        record = store.promote(
            gipp_id, body.to, operator=operator, reason=body.reason, expected_revision=body.expected_revision
        )
    except Exception as err:
        caller.audit("gipp.promote", target, "refused", to=body.to.value, reason=body.reason, error=str(err)[:500])
        raise
    caller.audit("gipp.promote", target, to=body.to.value, reason=body.reason,
                 evidence=body.evidence.model_dump() if body.evidence else None)
    return record_dict(record)


@router.post("/{gipp_id}/retire", summary="Retire a GIPP")
def retire(caller: Operator, gipp_id: GippId, body: Retirement) -> dict[str, Any]:
    """Retire a GIPP (operator); it stays in the store and its history."""
    store = caller.runtime.host.gipps
    try:
        store.get(gipp_id)
        record = store.retire(gipp_id, operator=_as_store_operator(caller, store), reason=body.reason)
    except Exception as err:
        caller.audit("gipp.retire", f"gipp:{gipp_id}", "refused", reason=body.reason, error=str(err)[:500])
        raise
    caller.audit("gipp.retire", f"gipp:{gipp_id}", reason=body.reason)
    return record_dict(record)
