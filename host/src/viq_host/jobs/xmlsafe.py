"""Hardened XML parsing for job orders: no entities, no DTD, no network, a size limit.

Every failure is an :class:`~viq_interfaces.errors.InvalidJobOrder` (exit code 128) naming the file and,
when the parser knows it, the line and column. A document carrying any ``<!DOCTYPE`` or ``<!ENTITY``
declaration is refused before it is parsed, so external-entity (XXE) and entity-expansion ("billion
laughs") payloads never reach libxml2's entity machinery.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from viq_interfaces.errors import InvalidJobOrder

__all__ = ["line_of", "parse_xml_bytes", "read_limited", "read_xml_file"]

# Markup declarations are ASCII in every ASCII-compatible encoding (UTF-8, ISO-8859-x); for other
# encodings the post-parse check on ``docinfo`` below catches them.
_DECLARATION = re.compile(rb"<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)\b")


def line_of(elem: etree._Element) -> int | None:
    """The source line of ``elem`` (None when unknown)."""
    line = getattr(elem, "sourceline", None)
    return line if isinstance(line, int) else None


def _make_parser() -> etree.XMLParser:
    # A new parser per document: lxml parsers keep state and must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
        remove_pis=True,
    )


def _line_col(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def read_limited(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path``, refusing files larger than ``max_bytes`` without reading them whole."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InvalidJobOrder(
                f"job order is {size} bytes, larger than the limit of {max_bytes} bytes (max_job_order_bytes)",
                source=source,
                field="size",
            )
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError as err:
        raise InvalidJobOrder("job order file does not exist", source=source) from err
    except IsADirectoryError as err:
        raise InvalidJobOrder("job order path is a directory", source=source) from err
    except PermissionError as err:
        raise InvalidJobOrder("job order file is not readable", source=source) from err
    except OSError as err:
        raise InvalidJobOrder(f"cannot read job order: {err.strerror or err}", source=source) from err
    if len(data) > max_bytes:  # the file grew between stat and read, or is a special file
        raise InvalidJobOrder(
            f"job order is larger than the limit of {max_bytes} bytes (max_job_order_bytes)",
            source=source,
            field="size",
        )
    return data


def parse_xml_bytes(data: bytes, source: str, *, max_bytes: int) -> etree._ElementTree:
    """Parse ``data`` with the hardened parser; ``source`` names the document in error messages."""
    if len(data) > max_bytes:
        raise InvalidJobOrder(
            f"job order is {len(data)} bytes, larger than the limit of {max_bytes} bytes (max_job_order_bytes)",
            source=source,
            field="size",
        )
    match = _DECLARATION.search(data)
    if match is not None:
        line, column = _line_col(data, match.start())
        kind = match.group(1).decode("ascii")
        raise InvalidJobOrder(
            f"<!{kind}> declarations are not allowed in a job order (no DTDs, no entities)",
            source=source,
            line=line,
            column=column,
        )
    try:
        root = etree.fromstring(data, parser=_make_parser())
    except etree.XMLSyntaxError as err:
        line, column = err.position if err.position else (err.lineno, None)
        message = str(err.msg) if err.msg else "not well-formed XML"
        message = re.sub(r", line \d+, column \d+$", "", message)
        raise InvalidJobOrder(
            f"malformed XML: {message}", source=source, line=line or None, column=column or None
        ) from err
    except ValueError as err:  # e.g. a str with an encoding declaration, or an unknown encoding
        raise InvalidJobOrder(f"malformed XML: {err}", source=source) from err
    if root is None:
        raise InvalidJobOrder("malformed XML: empty document", source=source)
    tree = root.getroottree()
    docinfo = tree.docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise InvalidJobOrder(
            "a DOCTYPE is not allowed in a job order (no DTDs, no entities)", source=source, line=1
        )
    for node in root.iter(etree.Entity):  # cannot happen without a DTD; belt and braces
        raise InvalidJobOrder(
            "entity references are not allowed in a job order", source=source, line=line_of(node)
        )
    return tree


def read_xml_file(path: Path, *, max_bytes: int) -> etree._ElementTree:
    """Read and parse a job-order file with the size limit and the hardened parser."""
    return parse_xml_bytes(read_limited(path, max_bytes), str(path), max_bytes=max_bytes)

