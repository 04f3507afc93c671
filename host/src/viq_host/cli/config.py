"""``viq config show``: the effective settings and where each comes from."""

from __future__ import annotations

import json

import typer

from viq_host.cli._common import out_console, settings

app = typer.Typer(help="Show the configuration.", no_args_is_help=True)


@app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the effective settings (VIQ_HOME, databases, executor, data roots)."""
    s = settings()
    data = json.loads(s.model_dump_json())
    if as_json:
        print(json.dumps(data, indent=2))
        return
    for name, field in type(s).model_fields.items():
        out_console.print(f"[bold]{name}[/bold] = {data[name]}  [dim]# {field.description}[/dim]")
