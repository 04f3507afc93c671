"""``viq processors list|show|task-table|check``: the installed processors, their declarations and conformance."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from viq_host.cli._common import out_console
from viq_host.jobs.tasktable import parameter_rows, task_table_xml
from viq_host.plugins import Plugins, PluginWarning, ProcessorEntry, load_plugins
from viq_interfaces.processor import Processor

app = typer.Typer(
    help="Installed processors: list, show a declaration, export a task table, check conformance.",
    no_args_is_help=True,
)


def _plugins() -> Plugins:
    """The plugin registries of this invocation (a seam for tests).

    Plugin warnings are silenced here: a broken plugin shows as a disabled row with its reason.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        return load_plugins()


def _row(entry: ProcessorEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "version": entry.version,
        "status": entry.status,
        "plugin": entry.plugin,
        "description": entry.description,
        "reason": entry.reason,
    }


def _find(name: str, version: str | None) -> tuple[type[Processor], ProcessorEntry]:
    plugins = _plugins()
    cls = plugins.processors.get(name, version)
    decl = cls.declaration
    entry = next(e for e in plugins.processors if e.cls is cls and e.version == decl.version)
    return cls, entry


@app.command("list")
def list_processors(as_json: bool = typer.Option(False, "--json", help="Print a JSON array.")) -> None:
    """List installed processors with version, status (enabled/disabled), plugin and description or reason."""
    entries = _plugins().processors.entries()
    if as_json:
        print(json.dumps([_row(e) for e in entries], indent=2))
        return
    if not entries:
        out_console.print("no processors installed (entry-point group viq.processors)")
        return
    table = Table(title="VIQ processors")
    for column in ("name", "version", "status", "plugin", "description / reason"):
        table.add_column(column, overflow="fold")
    for e in entries:
        status = "[green]enabled[/green]" if e.status == "enabled" else "[red]disabled[/red]"
        table.add_row(e.name, e.version, status, e.plugin, e.description if e.status == "enabled" else e.reason)
    out_console.print(table)


def declaration_dict(cls: type[Processor], entry: ProcessorEntry | None = None) -> dict[str, Any]:
    """The declaration of ``cls`` as JSON-ready data, with the parameter JSON schema and parameter table."""
    data: dict[str, Any] = cls.declaration.model_dump(mode="json")
    data["parameters_schema"] = cls.Parameters.model_json_schema()
    data["parameters"] = parameter_rows(cls.Parameters)
    if entry is not None:
        data["plugin"] = entry.plugin
        data["status"] = entry.status
    return data


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Processor name, e.g. dark-signal."),
    version: str | None = typer.Option(None, "--version", help="Version NN.NN (default: latest enabled)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a processor's declaration: ports, parameters (JSON schema), GIPPs, resources, retry policy."""
    cls, entry = _find(name, version)
    data = declaration_dict(cls, entry)
    if as_json:
        print(json.dumps(data, indent=2))
        return
    decl = cls.declaration
    out_console.print(f"[bold]{decl.name}[/bold] {decl.version}  ({entry.plugin})")
    out_console.print(decl.description, markup=False)
    out_console.print("[bold]inputs[/bold]")
    for port in decl.inputs:
        count = f"{port.min_count}..{port.max_count if port.max_count is not None else '*'}"
        flag = "mandatory" if port.mandatory else "optional"
        out_console.print(f"  {port.name}: {' | '.join(port.product_types)} [{count}] {flag}, "
                          f"{port.selection.value}", markup=False)
    out_console.print("[bold]outputs[/bold]")
    for out in decl.outputs:
        out_console.print(f"  {out.name}: {out.product_type} ({out.format}) {out.file_name_pattern}", markup=False)
    out_console.print("[bold]parameters[/bold]")
    for row in data["parameters"]:
        out_console.print(f"  {row['name']} ({row['type']}) = {row['default']}  {row['description']}", markup=False)
    if decl.gipps:
        out_console.print("[bold]gipps[/bold]")
        for req in decl.gipps:
            out_console.print(f"  {req.gipp_type} {'mandatory' if req.mandatory else 'optional'}", markup=False)
    res = decl.resources
    out_console.print(f"[bold]resources[/bold] {res.cores} core(s), {res.memory_mb} MiB, walltime {res.walltime}")


@app.command("task-table")
def task_table(
    name: str = typer.Argument(..., help="Processor name."),
    version: str | None = typer.Option(None, "--version", help="Version NN.NN (default: latest enabled)."),
    out: Annotated[Path | None, typer.Option("--out", help="Write to FILE instead of standard output.")] = None,
) -> None:
    """Export a processor's declaration as Task Table XML (schemas/task_table.xsd)."""
    cls, _ = _find(name, version)
    data = task_table_xml(cls)
    if out is None:
        typer.echo(data.decode("utf-8"), nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    out_console.print(f"wrote {out}")


_STATUS_STYLE = {"pass": "green", "fail": "red", "warn": "yellow", "skip": "dim"}


@app.command("check")
def check(
    name: str = typer.Argument(..., help="Processor name (plugin or task-table processor)."),
    version: str | None = typer.Option(None, "--version", help="Version NN.NN (default: latest enabled)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    no_run: bool = typer.Option(False, "--no-run", help="Static checks only: do not run the processor."),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds an external executable may run per check."),
) -> None:
    """Run the contract checks on a processor and print a report (exit 1 when a check fails).

    Declaration and exported task table valid; a job order missing a mandatory input refused with 134 (by the
    host and by the processor itself); every declared output produced on the processor's sample input
    (skipped, and listed, when it has none); every log line an ICD line.
    """
    import tempfile

    from viq_host.conformance import check_processor

    cls, _ = _find(name, version)
    with tempfile.TemporaryDirectory(prefix="viq-check-") as tmp:
        report = check_processor(cls, Path(tmp), run=not no_run, timeout=timeout)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        table = Table(title=f"conformance of {report.processor} {report.version}")
        for column in ("check", "status", "detail"):
            table.add_column(column, overflow="fold")
        for c in report.checks:
            style = _STATUS_STYLE[c.status]
            table.add_row(c.name, f"[{style}]{c.status}[/{style}]", c.detail.replace("[", r"\["))
        out_console.print(table)
        verdict = "[green]conforms[/green]" if report.ok else "[red]does not conform[/red]"
        out_console.print(f"{report.processor} {report.version}: {verdict}")
    if not report.ok:
        raise SystemExit(1)  # not typer.Exit: run_app drops its code
