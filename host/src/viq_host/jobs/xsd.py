"""The bundled XSDs (``schemas/``): location, compiled-schema cache and positioned validation errors."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import xmlschema
from lxml import etree

from viq_interfaces.errors import ConfigurationError, InvalidJobOrder

__all__ = [
    "JOB_ORDER_XSD",
    "MMFI_JOB_ORDER_XSD",
    "TASK_TABLE_XSD",
    "SchemaIssue",
    "check",
    "issues",
    "schema",
    "schemas_dir",
]

JOB_ORDER_XSD = "job_order.xsd"
TASK_TABLE_XSD = "task_table.xsd"
MMFI_JOB_ORDER_XSD = "maja/VenusJobOrder.xsd"


@functools.cache
def schemas_dir() -> Path:
    """The ``schemas/`` directory: ``$VIQ_SCHEMAS_DIR``, a copy packaged as ``viq_host/schemas``, or the workspace's."""
    env = os.environ.get("VIQ_SCHEMAS_DIR")
    here = Path(__file__).resolve()
    candidates = [Path(env)] if env else []
    candidates += [here.parents[1] / "schemas", here.parents[4] / "schemas"]
    for candidate in candidates:
        if (candidate / JOB_ORDER_XSD).is_file():
            return candidate
    raise ConfigurationError(f"cannot find the VIQ schemas directory (looked in {[str(c) for c in candidates]})")


@functools.cache
def schema(name: str) -> xmlschema.XMLSchema:
    """The compiled schema ``schemas/<name>`` (compiled once per process, offline: ``allow="local"``)."""
    path = schemas_dir() / name
    try:
        return xmlschema.XMLSchema(str(path), allow="local")
    except (xmlschema.XMLSchemaException, OSError) as err:
        raise ConfigurationError(f"{path}: cannot load schema: {err}") from err


@dataclass(frozen=True)
class SchemaIssue:
    """One XSD violation with its position."""

    line: int | None
    path: str
    reason: str

    def describe(self) -> str:
        """``line N: /x/y: reason``."""
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.reason}"


def _reason(err: xmlschema.XMLSchemaValidationError) -> str:
    reason = str(err.reason or err.message).replace("\\\\", "\\")
    elem = err.elem
    if elem is not None and "pattern" in reason:
        reason = f"value {(elem.text or '').strip()!r}: {reason}"
    return reason


def issues(tree: etree._ElementTree, name: str) -> list[SchemaIssue]:
    """Every violation of ``schemas/<name>`` in ``tree`` (an lxml tree, so each carries its source line)."""
    found: list[SchemaIssue] = []
    for err in schema(name).iter_errors(tree):
        if isinstance(err, xmlschema.XMLSchemaValidationError):
            found.append(SchemaIssue(line=err.sourceline, path=err.path or "", reason=_reason(err)))
        else:  # pragma: no cover - iter_errors yields only validation errors
            found.append(SchemaIssue(line=None, path="", reason=str(err)))
    return found


def check(tree: etree._ElementTree, name: str, source: str) -> None:
    """Raise InvalidJobOrder (128) at the first violation, listing the others in the message."""
    found = issues(tree, name)
    if not found:
        return
    first = found[0]
    message = f"does not match {name}: {first.reason}"
    if len(found) > 1:
        more = "; ".join(i.describe() for i in found[1:6])
        extra = f" (+{len(found) - 6} more)" if len(found) > 6 else ""
        message += f" [{len(found) - 1} more: {more}{extra}]"
    raise InvalidJobOrder(message, source=source, line=first.line, field=first.path or None)
