"""``viq run PROCESSOR --input PORT=PATH… --param NAME=VALUE… --out DIR``: one processor, here and now.

It writes an EEGS job order (``$VIQ_HOME/orders/<job>.xml``), runs it through the job service with the local
executor (the same path as any job: validation, job store, worker subprocess, after-exit checks), links
or copies the outputs into DIR and prints the result manifest. ``--json`` prints exactly one JSON object
on stdout (``job_id``, ``state``, ``exit_code``, ``outputs`` as ``{port, path, product_type}``,
``measurements`` as ``Measurement.key → value``…); progress and messages go to stderr.

The directories of the given inputs are added to the data roots of this one run: the person typing the
command already has access to them (the data roots protect the daemon from foreign job orders).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from viq_host.cli._common import err_console, out_console, pairs, settings
from viq_host.cli.job import wait_for
from viq_host.config import load_settings
from viq_host.host import open_service
from viq_host.jobs.build import build_job_order
from viq_host.jobs.store import JobState
from viq_host.service import JobStatus, quiet_plugins
from viq_interfaces.errors import InvalidJobOrder


def _place(src: Path, output_dir: Path, dest_root: Path) -> Path:
    """Hard-link (or copy) one output into ``dest_root``, keeping its path relative to the output dir."""
    try:
        rel = src.relative_to(output_dir)
    except ValueError:
        rel = Path(src.name)
    dest = dest_root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src, dest)
        return dest
    if dest.exists() or dest.is_symlink():
        dest.unlink()
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
    return dest


def _place_tree(output_dir: Path, dest_root: Path) -> None:
    """Hard-link (or copy) every file the run wrote: a product's companion files (an ``.HDR``'s ``.DBL.DIR``,
    a truth record's arrays, plots) travel with it."""
    if not output_dir.is_dir():
        return
    for src in sorted(output_dir.rglob("*")):
        if src.is_file() and not src.is_symlink():
            _place(src, output_dir, dest_root)


def manifest(st: JobStatus, out: Path | None) -> dict[str, Any]:
    """The result manifest of ``viq run``; with ``out`` the outputs are placed there (paths point into it)."""
    job = st.job
    result = st.result
    attempt = st.last_attempt
    outputs: list[dict[str, Any]] = []
    if result is not None and job.state in (JobState.SUCCEEDED, JobState.WARNING):
        output_dir = Path(attempt.work_dir) / "out" if attempt else Path()
        if out is not None and attempt is not None:
            _place_tree(output_dir, out)
        for product in result.outputs:
            path = _place(product.path, output_dir, out) if out is not None else product.path
            outputs.append({"port": product.port, "path": str(path), "product_type": product.product_type})
    measurements: dict[str, float] = {}
    if result is not None:
        measurements = {m.key: m.value for m in result.measurements}
    return {
        "job_id": job.id,
        "processor": job.processor,
        "version": job.version,
        "state": job.state.value,
        "exit_code": job.exit_code,
        "reason": job.reason,
        "summary": result.summary if result else "",
        "warnings": list(result.warnings) if result else [],
        "outputs": outputs,
        "measurements": measurements,
        "attempts": len(st.attempts),
        "work_dir": attempt.work_dir if attempt else None,
    }


def run(
    processor: Annotated[str, typer.Argument(help="Processor name (see `viq processors list`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory receiving the outputs.")],
    inputs: Annotated[
        list[str] | None, typer.Option("--input", "-i", help="PORT=PATH (repeat for several files or ports).")
    ] = None,
    params: Annotated[list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE (repeatable).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Processor version (default: latest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as one JSON object.")] = False,
) -> None:
    """Run one processor on the given files through the host and print the result manifest."""
    base = settings()
    plugins = quiet_plugins()
    cls = plugins.processors.get(processor, version)
    decl = cls.declaration
    by_port: dict[str, list[str]] = {}
    for port, raw in pairs(inputs or [], "--input"):
        by_port.setdefault(port, []).append(str(Path(raw).expanduser().absolute()))
    param_values = dict(pairs(params or [], "--param"))
    out = out.expanduser().absolute()
    roots = list(base.data_roots)
    for names in by_port.values():
        roots += [Path(n).parent for n in names]
    s = load_settings(home=base.home, data_roots=list(dict.fromkeys(roots)), executor="local")
    order = build_job_order(decl, inputs=by_port, params=param_values)
    with open_service(s, plugins=plugins) as service:
        try:
            job_id = service.submit(order)  # stored as $VIQ_HOME/orders/<job>.xml
        except InvalidJobOrder as err:
            if as_json:
                print(json.dumps({"job_id": None, "state": "REJECTED", "exit_code": err.exit_code,
                                  "reason": err.describe(), "outputs": [], "measurements": {}}))
            raise
        if not as_json:
            err_console.print(f"job {job_id}: {decl.key}", markup=False, highlight=False)
        wait_for(service, [job_id])
        st = service.status(job_id)
    out.mkdir(parents=True, exist_ok=True)
    data = manifest(st, out)
    code = data["exit_code"] or 0
    if as_json:
        print(json.dumps(data))
    else:
        out_console.print(f"job {data['job_id']} {data['state']} (exit {code})", markup=False, highlight=False)
        if data["reason"]:
            out_console.print(f"  {data['reason']}", markup=False, highlight=False)
        for o in data["outputs"]:
            out_console.print(f"  output {o['port']} {o['product_type']} {o['path']}", markup=False, highlight=False)
        for key, value in data["measurements"].items():
            out_console.print(f"  {key} = {value:g}", markup=False, highlight=False)
    if code:
        raise SystemExit(code)  # not typer.Exit: run_app drops its code


def register(app: typer.Typer) -> None:
    """Add ``viq run`` to the top-level app."""
    app.command("run")(run)
