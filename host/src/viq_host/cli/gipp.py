"""``viq gipp``: list, inspect, compare, import/export, validate, promote and retire GIPPs; read the audit trail."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from viq_host.cli._common import out_console, settings
from viq_host.gipp import GippStatus, GippStore, GippStoreError, open_gipp_store
from viq_host.gipp.diff import diff_gipps, plot_array_diff
from viq_host.gipp.icd_export import export_icd
from viq_host.plugins import Plugins

app = typer.Typer(help="GIPP store: versions, validity, promotion workflow, audit.", no_args_is_help=True)

#: Where the CLI gets its plugins (None = entry points); tests replace it.
plugins_factory: Callable[[], Plugins | None] = lambda: None  # noqa: E731 - a replaceable hook


def _store() -> GippStore:
    s = settings()
    return open_gipp_store(s.database_url, plugins_factory(), directory=s.home / "gipp")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _status(value: str | None) -> GippStatus | None:
    if value is None:
        return None
    try:
        return GippStatus(value.upper())
    except ValueError:
        raise GippStoreError(f"unknown status {value!r} (CANDIDATE, TEST, OPER, RETIRED)") from None


@app.command("list")
def list_(
    gipp_type: str | None = typer.Option(None, "--type", help="Type code, e.g. GIP_DARKCU."),
    status: str | None = typer.Option(None, "--status", help="CANDIDATE, TEST, OPER or RETIRED."),
    band: str | None = typer.Option(None, "--band", help="Band code B01..B12."),
) -> None:
    """List GIPP versions."""
    with _store() as store:
        rows = store.find(gipp_type=gipp_type, status=_status(status), band=band)
    for r in rows:
        print(f"#{r.id:<5} {r.status.value:9} {r.file_name}  {r.producing_job}")


@app.command("show")
def show(gipp_id: int = typer.Argument(..., help="GIPP id.")) -> None:
    """Show one GIPP: header, provenance, arrays, validation results."""
    with _store() as store:
        r = store.get(gipp_id)
        results = store.validations(gipp_id)
    print(f"GIPP #{r.id}  {r.file_name}")
    print(f"  type {r.gipp_type}  serial {r.serial:05d}  status {r.status.value}")
    print(f"  validity {r.validity.start or 'begin of mission'} .. {r.validity.stop or 'end of mission'}")
    if r.original_stop != r.validity.stop:
        print(f"  (validity closed; created with stop {r.original_stop or 'end of mission'})")
    print(f"  applicability {r.applicability.key}  band {r.band or '-'}  TDI set {r.tdi_set or '-'}")
    print(f"  produced by job {r.producing_job or '-'} ({r.processor_version or '-'})")
    for p in r.input_products:
        print(f"  input {p}")
    print(f"  content sha256 {r.content_sha256} ({'typed model' if r.registered else 'raw Data_Block'})")
    for a in r.arrays:
        print(f"  array {a.name}: {a.length} x {a.dtype}, sha256 {a.sha256[:16]}…")
    for v in results:
        verdict = {True: "PASS", False: "FAIL", None: "info"}[v.passed]
        print(f"  validation {v.metric} = {v.value:g} (threshold {v.threshold}) {verdict} by {v.recorded_by}")


@app.command("diff")
def diff(
    a: int = typer.Argument(..., help="Reference GIPP id."),
    b: int = typer.Argument(..., help="GIPP id to compare."),
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a PNG of the first array difference.")] = None,
) -> None:
    """What changed from A to B: header fields, scalars, and statistics of B - A for arrays."""
    with _store() as store:
        d = diff_gipps(store, a, b)
        title = f"{store.get(a).file_name} → {store.get(b).file_name}"
    for name, va, vb in d.header:
        print(f"header {name}: {va} -> {vb}")
    for path, va, vb in d.changed:
        print(f"changed {path}: {va} -> {vb}")
    for path in d.added:
        print(f"added {path}")
    for path in d.removed:
        print(f"removed {path}")
    for arr in d.arrays:
        print(
            f"array {arr.path}: {arr.changed}/{arr.length} changed, B-A mean {arr.mean:.6g} std {arr.std:.6g} "
            f"min {arr.min:.6g} max {arr.max:.6g} rms {arr.rms:.6g} max|rel| {arr.max_abs_relative:.3g}"
        )
    if d.identical:
        print("identical")
    if plot is not None and d.arrays:
        print(f"plot {plot_array_diff(d.arrays[0], plot, title)}")


@app.command("history")
def history(
    gipp_type: str = typer.Argument(..., help="Type code."),
    band: str | None = typer.Option(None, "--band", help="Band code."),
    tdi: int | None = typer.Option(None, "--tdi", help="TDI configuration (1, 4, 8, 16, 32)."),
    site: str | None = typer.Option(None, "--site", help="Site nick name."),
) -> None:
    """The versions in force over time (every version that was or is OPER), by validity start."""
    with _store() as store:
        rows = store.history(gipp_type, band=band, tdi=tdi, site=site)
    for r in rows:
        start = r.validity.start.isoformat() if r.validity.start else "begin-of-mission"
        stop = r.validity.stop.isoformat() if r.validity.stop else "end-of-mission"
        print(f"{start} .. {stop}  #{r.id} {r.status.value:9} {r.file_name}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="GIPP .EEF file.")],
    operator: str | None = typer.Option(None, "--operator", help="Who imports (default: current user)."),
    reason: str = typer.Option("", "--reason", help="Why (required for OPER files)."),
) -> None:
    """Import a GIPP file (TEST class → CANDIDATE; OPER class → OPER, operator role needed)."""
    with _store() as store:
        r = store.import_file(file, actor=operator or _user(), reason=reason)
    print(f"GIPP #{r.id} {r.status.value} {r.file_name}")


@app.command("export")
def export(
    gipp_id: Annotated[int, typer.Argument(help="GIPP id.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output directory (required without --icd; default with --icd: the current directory)."
        ),
    ] = None,
    icd: Annotated[
        bool,
        typer.Option(
            "--icd",
            help="Write the VENµS ICD file (layout, naming and values of the public ICD schema, validated against "
            "it) instead of VIQ's own; refused (exit code 135) when the GIPP holds what the ICD cannot express.",
        ),
    ] = False,
    icd_schemas: Annotated[
        Path | None,
        typer.Option(
            "--icd-schemas",
            help="With --icd: the venus-icd-schemas directory (default $VIQ_ICD_SCHEMAS, else "
            "../shared/reference/venus-icd-schemas beside the workspace).",
        ),
    ] = None,
) -> None:
    """Write the GIPP as an Earth Explorer .EEF file (VIQ's schemas/gipp layout, or with --icd the ICD's)."""
    if not icd:
        if out is None:
            raise typer.BadParameter("--out DIR is required (without --icd)", param_hint="--out")
        with _store() as store:
            print(store.export(gipp_id, out))
        return
    with _store() as store:
        written = export_icd(store, gipp_id, out if out is not None else Path.cwd(), schemas=icd_schemas)
    print(written.path)
    for path in written.data_files:
        print(f"  data {path}")
    if written.notes is not None:
        print(f"  not in the ICD: {written.notes}")


@app.command("validate")
def validate(
    gipp_id: int = typer.Argument(..., help="GIPP id."),
    evidence: Annotated[
        Path | None,
        typer.Option("--evidence", help="Evidence file (kept in the store); JSON with metric/value/threshold/passed."),
    ] = None,
    metric: str | None = typer.Option(None, "--metric", help="NAME=VALUE, e.g. residual_striping=0.012."),
    threshold: float | None = typer.Option(None, "--threshold", help="Upper bound: passes when value <= it."),
    passed: bool | None = typer.Option(None, "--pass/--fail", help="Explicit verdict."),
    by: str | None = typer.Option(None, "--by", help="Who measured (default: current user)."),
    note: str = typer.Option("", "--note", help="Free comment."),
) -> None:
    """Attach a validation result (a metric with its value) to a GIPP."""
    name: str | None = None
    value: float | None = None
    if metric is not None:
        if "=" not in metric:
            raise GippStoreError(f"--metric {metric!r}: expected NAME=VALUE")
        name, raw = metric.split("=", 1)
        try:
            value = float(raw)
        except ValueError:
            raise GippStoreError(f"--metric {metric!r}: {raw!r} is not a number") from None
    elif evidence is not None:
        try:
            data = json.loads(evidence.read_text())
            name, value = str(data["metric"]), float(data["value"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise GippStoreError(
                f"--evidence {evidence}: not a JSON object with metric and value ({err}); give --metric NAME=VALUE"
            ) from err
        threshold = threshold if threshold is not None else data.get("threshold")
        passed = passed if passed is not None else data.get("passed")
    else:
        raise GippStoreError("give --metric NAME=VALUE or --evidence FILE")
    with _store() as store:
        v = store.attach_validation(
            gipp_id,
            metric=name,
            value=value,
            threshold=threshold,
            passed=passed,
            evidence_file=evidence,
            actor=by or _user(),
            note=note,
        )
    verdict = {True: "PASS", False: "FAIL", None: "informative"}[v.passed]
    print(f"validation #{v.id} on GIPP #{gipp_id}: {v.metric} = {v.value:g} {verdict}")


@app.command("promote")
def promote(
    gipp_id: int = typer.Argument(..., help="GIPP id."),
    to: str = typer.Option(..., "--to", help="TEST or OPER."),
    operator: str = typer.Option(..., "--operator", help="Operator taking the decision (needs the operator role)."),
    reason: str = typer.Option(..., "--reason", help="Why."),
) -> None:
    """Promote a GIPP one step (CANDIDATE → TEST → OPER); needs a validation result."""
    target = _status(to)
    assert target is not None
    with _store() as store:
        r = store.promote(gipp_id, target, operator=operator, reason=reason)
    print(f"GIPP #{r.id} is {r.status.value}: {r.file_name}")


@app.command("retire")
def retire(
    gipp_id: int = typer.Argument(..., help="GIPP id."),
    operator: str | None = typer.Option(None, "--operator", help="Operator (default: current user)."),
    reason: str = typer.Option(..., "--reason", help="Why."),
) -> None:
    """Retire a GIPP (it is kept, never deleted)."""
    with _store() as store:
        r = store.retire(gipp_id, operator=operator or _user(), reason=reason)
    print(f"GIPP #{r.id} is {r.status.value}")


@app.command("grant")
def grant(
    name: str = typer.Argument(..., help="User to make an operator."),
    by: str | None = typer.Option(None, "--by", help="Who grants (default: current user)."),
    reason: str = typer.Option("", "--reason", help="Why."),
) -> None:
    """Give a user the operator role (may promote, retire and import OPER files)."""
    with _store() as store:
        store.grant_role(name, by=by or _user(), reason=reason)
    print(f"{name} is an operator")


@app.command("audit")
def audit(
    gipp_id: int | None = typer.Option(None, "--id", help="Only this GIPP."),
    limit: int | None = typer.Option(None, "--limit", help="Newest N entries."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """The audit trail: who did what, when and why."""
    with _store() as store:
        entries = store.audit(gipp_id, limit)
    if as_json:
        for e in entries:
            print(e.model_dump_json())
        return
    table = Table("at", "who", "action", "GIPP", "why", "detail")
    for e in entries:
        table.add_row(
            e.at.isoformat(),
            e.actor,
            e.action,
            "" if e.gipp_id is None else str(e.gipp_id),
            e.reason,
            json.dumps(e.detail),
        )
    out_console.print(table)
