"""Validate a GIPP file against the XSD of its ``File_Type`` (``schemas/gipp/<File_Type>.xsd``).

The schemas are VIQ's own (``schemas/gipp/README.md`` says, per type, which VENµS ICD schema each follows and
what differs). They are compiled once per process, offline (``allow="local"``), and errors name file:line and
the XML path of the first violation, with the next few listed.

The GIPP store calls :func:`check_gipp_file` from ``import_file`` before anything is stored. A type without a
schema in ``schemas/gipp/`` (plugin types), and a type the store keeps as a raw ``Data_Block`` because no content
model is registered for it, is checked by the reader only (header rules in :mod:`viq_host.gipp.eexml`).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from viq_host.gipp.eexml import EE_NS, parse_xml
from viq_host.gipp.models import GippFileError
from viq_host.jobs.xsd import SchemaIssue, issues, schemas_dir

__all__ = ["GIPP_XSD_DIR", "check_gipp_bytes", "check_gipp_file", "gipp_issues", "gipp_xsd_types", "xsd_name"]

GIPP_XSD_DIR = "gipp"


def gipp_xsd_types() -> list[str]:
    """The File_Types that have a schema in ``schemas/gipp/``."""
    return sorted(p.stem for p in (schemas_dir() / GIPP_XSD_DIR).glob("[A-Z][A-Z][A-Z]_*.xsd"))


def xsd_name(file_type: str) -> str | None:
    """``gipp/<file_type>.xsd`` relative to ``schemas/``, or None when the type has no schema."""
    name = f"{GIPP_XSD_DIR}/{file_type}.xsd"
    return name if (schemas_dir() / name).is_file() else None


def _file_type(root: etree._Element) -> str:
    found = root.find(f"{{{EE_NS}}}Fixed_Header/{{{EE_NS}}}File_Type")  # stand-alone header (.HDR)
    if found is None:
        found = root.find(f"{{{EE_NS}}}Earth_Explorer_Header/{{{EE_NS}}}Fixed_Header/{{{EE_NS}}}File_Type")
    return (found.text or "").strip() if found is not None else ""


def gipp_issues(data: bytes, *, source: str | None = None) -> tuple[str, list[SchemaIssue]]:
    """(File_Type, every violation of its schema); no violations when the type has no schema.

    Bad XML, DTDs and entities raise GippFileError (the hardened parser of :mod:`viq_host.gipp.eexml`).
    """
    root = parse_xml(data, source)
    file_type = _file_type(root)
    name = xsd_name(file_type) if file_type else None
    if name is None:
        return file_type, []
    return file_type, issues(root.getroottree(), name)


def check_gipp_bytes(data: bytes, *, source: str | None = None) -> None:
    """Raise GippFileError (file:line, XML path) at the first XSD violation, listing up to five more."""
    file_type, found = gipp_issues(data, source=source)
    if not found:
        return
    first = found[0]
    message = f"does not match schemas/{xsd_name(file_type)}: {first.path}: {first.reason}"
    if len(found) > 1:
        more = "; ".join(i.describe() for i in found[1:6])
        extra = f" (+{len(found) - 6} more)" if len(found) > 6 else ""
        message += f" [{len(found) - 1} more: {more}{extra}]"
    raise GippFileError(message, source=source, line=first.line)


def check_gipp_file(path: Path, *, registered: bool = True) -> None:
    """Validate the GIPP file ``path`` against its type's XSD; GippFileError (file:line) on a violation.

    ``registered=False`` (the store keeps the type's ``Data_Block`` raw, without a content model) skips the check.
    """
    if not registered:
        return
    try:
        data = path.read_bytes()
    except OSError as err:
        raise GippFileError(f"cannot read: {err.strerror}", source=str(path)) from err
    check_gipp_bytes(data, source=str(path))
