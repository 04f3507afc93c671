"""Read a job order of either dialect: hardened parse → dialect by root element → XSD → JobOrder.

``read_job_order`` is what the host, the worker and ``viq job validate`` call. Deviations tolerated by a
lenient read of an MMFI order are issued as :class:`JobOrderDeviation` warnings; use
:func:`read_job_order_report` to get them as data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from viq_host.jobs import eegs, mmfi, xsd
from viq_host.jobs.model import JobOrder
from viq_host.jobs.xmlsafe import line_of, parse_xml_bytes, read_limited
from viq_host.jobs.xsd import SchemaIssue
from viq_interfaces.errors import InvalidJobOrder

__all__ = [
    "JobOrderDeviation",
    "ReadReport",
    "order_from_tree",
    "parse_job_order_bytes",
    "read_job_order",
    "read_job_order_report",
]

DIALECTS = {eegs.ROOT: "eegs", mmfi.ROOT: "mmfi"}


class JobOrderDeviation(UserWarning):
    """Issued for each deviation from its schema that a lenient read tolerated (message: ``file:line: …``)."""


@dataclass(frozen=True)
class ReadReport:
    """A job order and the deviations a lenient read tolerated (always empty for a strict read)."""

    order: JobOrder
    deviations: tuple[SchemaIssue, ...]

    def describe_deviations(self) -> list[str]:
        """One line per deviation: ``file:line: path: reason``."""
        src = str(self.order.source) if self.order.source else "<job order>"
        return [f"{src}:{d.line}: {d.path}: {d.reason}" if d.line else f"{src}: {d.path}: {d.reason}"
                for d in self.deviations]


def order_from_tree(tree: etree._ElementTree, source: str, *, lenient: bool = False) -> ReadReport:
    """Detect the dialect of a parsed tree, check it against its XSD and build the JobOrder."""
    root = tree.getroot()
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag.startswith("{"):
        raise InvalidJobOrder(
            f"root element {tag} is in a namespace; job orders have none", source=source, line=line_of(root),
            field=tag,
        )
    dialect = DIALECTS.get(tag)
    path = Path(source) if source and not source.startswith("<") else None
    if dialect == "eegs":
        xsd.check(tree, xsd.JOB_ORDER_XSD, source)
        return ReadReport(order=eegs.order_from_tree(tree, path), deviations=())
    if dialect == "mmfi":
        read = mmfi.order_from_tree(tree, path, lenient=lenient)
        return ReadReport(order=read.order, deviations=read.deviations)
    known = " or ".join(f"<{t}>" for t in DIALECTS)
    raise InvalidJobOrder(f"root element <{tag}> is not a job order (expected {known})", source=source,
                          line=line_of(root), field=tag)


def parse_job_order_bytes(
    data: bytes, source: str, *, max_bytes: int = 1_048_576, lenient: bool = False
) -> JobOrder:
    """A JobOrder from XML bytes; ``source`` names the document in messages (a path makes it the order's file)."""
    report = order_from_tree(parse_xml_bytes(data, source, max_bytes=max_bytes), source, lenient=lenient)
    _warn(report)
    return report.order


def read_job_order_report(path: Path, *, max_bytes: int, lenient: bool = False) -> ReadReport:
    """Like :func:`read_job_order`, returning the tolerated deviations instead of warning about them."""
    path = Path(path).absolute()
    source = str(path)
    tree = parse_xml_bytes(read_limited(path, max_bytes), source, max_bytes=max_bytes)
    return order_from_tree(tree, source, lenient=lenient)


def read_job_order(path: Path, *, max_bytes: int, lenient: bool = False) -> JobOrder:
    """Read the job order at ``path`` (either dialect, detected by its root element).

    Raises InvalidJobOrder (exit code 128) with file:line:column for an oversized, malformed or
    entity-carrying file and with file:line and the XML path for an XSD violation. ``lenient`` applies to
    the MMFI dialect only: its XSD violations become :class:`JobOrderDeviation` warnings.
    """
    report = read_job_order_report(path, max_bytes=max_bytes, lenient=lenient)
    _warn(report)
    return report.order


def _warn(report: ReadReport) -> None:
    for line in report.describe_deviations():
        warnings.warn(line, JobOrderDeviation, stacklevel=3)
