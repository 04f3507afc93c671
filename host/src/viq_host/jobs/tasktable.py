"""Export a processor's declaration and parameter model as Task Table XML (``schemas/task_table.xsd``).

Also maintains the generated examples in ``schemas/examples/``::

    uv run python -m viq_host.jobs.tasktable --regenerate   # rewrite them
    uv run python -m viq_host.jobs.tasktable --check        # exit 1 when one is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import BaseModel

from viq_host.jobs import eegs, xsd
from viq_host.jobs.examples import ExampleDarkSignal, example_job_order
from viq_interfaces.processor import Processor

__all__ = ["EXAMPLES", "REGENERATE", "parameter_rows", "stale_examples", "task_table_xml", "write_examples"]

SCHEMA_NAME = "VIQ-Task-Table"
SCHEMA_VERSION = "1.0"
REGENERATE = "uv run python -m viq_host.jobs.tasktable --regenerate"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    elem = etree.SubElement(parent, tag, attrib=attrib)
    if text is not None:
        elem.text = text
    return elem


def _duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    return f"PT{int(seconds)}S" if seconds == int(seconds) else f"PT{seconds:.6f}S"


def _json_type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return _json_type(defs.get(prop["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "anyOf" in prop:
        return "|".join(_json_type(p, defs) for p in prop["anyOf"])
    if "type" in prop:
        return str(prop["type"])
    if "enum" in prop or "const" in prop:
        return "string"
    return "any"


def _bound(prop: dict[str, Any], key: str) -> float | None:
    if key in prop:
        return float(prop[key])
    for alt in prop.get("anyOf", []):
        if key in alt:
            return float(alt[key])
    return None


def _allowed(prop: dict[str, Any], defs: dict[str, Any]) -> list[Any]:
    if "$ref" in prop:
        return _allowed(defs.get(prop["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "enum" in prop:
        return list(prop["enum"])
    if "const" in prop:
        return [prop["const"]]
    for alt in prop.get("anyOf", []):
        found = _allowed(alt, defs)
        if found:
            return found
    return []


def parameter_rows(model: type[BaseModel]) -> list[dict[str, Any]]:
    """One row per parameter: name, type, default (JSON text), bounds, allowed values, description."""
    schema = model.model_json_schema()
    props: dict[str, Any] = schema.get("properties", {})
    defs: dict[str, Any] = schema.get("$defs", {})
    defaults = model().model_dump(mode="json")
    rows = []
    for name, info in model.model_fields.items():
        prop = props.get(info.alias or name, {})
        default = defaults.get(name)
        rows.append(
            {
                "name": name,
                "type": _json_type(prop, defs),
                "default": default if isinstance(default, str) else json.dumps(default),
                "minimum": _bound(prop, "minimum"),
                "exclusive_minimum": _bound(prop, "exclusiveMinimum"),
                "maximum": _bound(prop, "maximum"),
                "exclusive_maximum": _bound(prop, "exclusiveMaximum"),
                "allowed": [v if isinstance(v, str) else json.dumps(v) for v in _allowed(prop, defs)],
                "description": info.description or "",
            }
        )
    return rows


def _number(value: float) -> str:
    return repr(int(value)) if value == int(value) else repr(value)


def task_table_xml(processor: type[Processor]) -> bytes:
    """The Task Table of ``processor`` (UTF-8 XML valid against ``schemas/task_table.xsd``)."""
    decl = processor.declaration
    root = etree.Element("Task_Table", schemaName=SCHEMA_NAME, schemaVersion=SCHEMA_VERSION)
    _sub(root, "Processor_Name", decl.name)
    _sub(root, "Processor_Version", decl.version)
    _sub(root, "Description", decl.description)
    task = _sub(_sub(root, "List_of_Tasks", count="1"), "Task")
    _sub(task, "Task_Name", decl.task_name or decl.name)
    _sub(task, "Task_Version", decl.version)
    res = _sub(task, "Resources")
    _sub(res, "Number_of_CPU_Cores", str(decl.resources.cores))
    _sub(res, "Amount_of_RAM_MiB", str(decl.resources.memory_mb))
    _sub(res, "Disk_Space_MiB", str(decl.resources.disk_mb))
    _sub(res, "Walltime", _duration(decl.resources.walltime))
    retry = _sub(task, "Retry")
    _sub(retry, "Max_Attempts", str(decl.retry.max_attempts))
    _sub(retry, "Retry_On_Exit_Codes", " ".join(str(c) for c in decl.retry.retry_on))
    _sub(retry, "Rerunnable", "true" if decl.retry.rerunnable else "false")
    _sub(retry, "Backoff_Seconds", _number(decl.retry.backoff_seconds))

    rows = parameter_rows(processor.Parameters)
    params = _sub(task, "List_of_Proc_Parameters", count=str(len(rows)))
    for row in rows:
        node = _sub(params, "Proc_Parameter")
        _sub(node, "Name", row["name"])
        _sub(node, "Type", row["type"])
        _sub(node, "Default", row["default"])
        for key, tag in (("minimum", "Minimum"), ("exclusive_minimum", "Exclusive_Minimum"),
                         ("maximum", "Maximum"), ("exclusive_maximum", "Exclusive_Maximum")):
            if row[key] is not None:
                _sub(node, tag, _number(row[key]))
        if row["allowed"]:
            allowed = _sub(node, "List_of_Allowed_Values", count=str(len(row["allowed"])))
            for value in row["allowed"]:
                _sub(allowed, "Value", value)
        _sub(node, "Description", row["description"])

    inputs = _sub(task, "List_of_Inputs", count=str(len(decl.inputs)))
    for port in decl.inputs:
        node = _sub(inputs, "Input")
        _sub(node, "Input_ID", port.name)
        _sub(node, "Mandatory", "true" if port.mandatory else "false")
        _sub(node, "Min_Count", str(port.min_count))
        _sub(node, "Max_Count", "unbounded" if port.max_count is None else str(port.max_count))
        _sub(node, "Selection_Rule", port.selection.value)
        _sub(node, "Description", port.description)
        alts = _sub(node, "List_of_Alternatives", count=str(len(port.product_types)))
        for k, code in enumerate(port.product_types, start=1):
            alt = _sub(alts, "Alternative")
            _sub(alt, "Order", str(k))
            _sub(alt, "File_Type", code)

    outputs = _sub(task, "List_of_Outputs", count=str(len(decl.outputs)))
    for out in decl.outputs:
        node = _sub(outputs, "Output")
        _sub(node, "Output_ID", out.name)
        _sub(node, "File_Type", out.product_type)
        _sub(node, "Format", out.format)
        _sub(node, "Min_Count", str(out.min_count))
        _sub(node, "Max_Count", "unbounded" if out.max_count is None else str(out.max_count))
        _sub(node, "File_Name_Pattern", out.file_name_pattern)
        _sub(node, "Description", out.description)

    gipps = _sub(task, "List_of_GIPPs", count=str(len(decl.gipps)))
    for req in decl.gipps:
        node = _sub(gipps, "GIPP")
        _sub(node, "File_Type", req.gipp_type)
        _sub(node, "Mandatory", "true" if req.mandatory else "false")
        _sub(node, "Per_Band", "true" if req.per_band else "false")
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


EXAMPLES: dict[str, Callable[[], bytes]] = {
    "job_order_example.xml": lambda: eegs.job_order_xml(example_job_order()),
    "task_table_example.xml": lambda: task_table_xml(ExampleDarkSignal),
}
"""Generated files in ``schemas/examples/`` and how each is made."""


def examples_dir() -> Path:
    """``schemas/examples``."""
    return xsd.schemas_dir() / "examples"


def stale_examples() -> list[str]:
    """Names of example files that differ from what the code generates now."""
    return [name for name, make in EXAMPLES.items()
            if not (examples_dir() / name).is_file() or (examples_dir() / name).read_bytes() != make()]


def write_examples() -> list[Path]:
    """Regenerate every example file; returns their paths."""
    out = examples_dir()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in EXAMPLES.items():
        (out / name).write_bytes(make())
        written.append(out / name)
    return written


def main(argv: list[str] | None = None) -> int:
    """``--regenerate`` rewrites ``schemas/examples``; ``--check`` exits 1 when they are stale."""
    parser = argparse.ArgumentParser(prog="python -m viq_host.jobs.tasktable", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--regenerate", action="store_true", help="rewrite schemas/examples/*")
    group.add_argument("--check", action="store_true", help="exit 1 when an example is stale")
    args = parser.parse_args(argv)
    if args.regenerate:
        for path in write_examples():
            print(f"wrote {path}")
        return 0
    stale = stale_examples()
    if stale:
        print(f"stale: {', '.join(stale)}; run `{REGENERATE}`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
