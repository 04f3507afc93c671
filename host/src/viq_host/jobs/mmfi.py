"""Reader for the MMFI ``Ipf_Job_Order`` dialect written by the VENµS ground segment and MAJA.

The dialect (``schemas/maja/VenusJobOrder.xsd``, © CNES, Apache-2.0) has no port names and no inline
parameters: inputs are identified by their 10-character ``File_Type`` (so each JobInput's ``port`` is its
File_Type, mapped onto the processor's ports by product type during validation), dates are ``Ipf_Date``
(``YYYYMMDD_hhmmssffffff``), every ``List_of_*`` carries a ``count`` attribute, and GIPPs are bare file
names whose type is read from the VENµS file-name pattern.

Real files of this dialect often do not validate against their own XSD. The *strict* read refuses any
XSD violation (all listed with their lines); the *lenient* read accepts what it can interpret and returns
every deviation, with its line, for the operator to see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Literal, cast

from lxml import etree

from viq_host.jobs import xsd
from viq_host.jobs.model import JobGipp, JobInput, JobOrder, JobOutput, Located
from viq_host.jobs.xmlsafe import line_of
from viq_host.jobs.xsd import SchemaIssue
from viq_interfaces.errors import InvalidJobOrder

__all__ = ["ROOT", "MmfiRead", "gipp_type_from_name", "order_from_tree", "parse_ipf_date"]

ROOT = "Ipf_Job_Order"
_IPF_DATE = re.compile(r"^(\d{8})_(\d{6})(\d{6})$")
_VENUS_NAME = re.compile(r"^[A-Z0-9]{2}_[A-Z0-9]{4}_([A-Z0-9]{3}_[A-Z0-9]{6})(?:[_.]|$)")
_LEVELS = ("DEBUG", "INFO", "PROGRESS", "WARNING", "ERROR")

NameType = Literal["Physical", "Directory", "Logical", "Stem", "Regexp"]


@dataclass(frozen=True)
class MmfiRead:
    """The order read from an ``Ipf_Job_Order`` and the deviations tolerated (empty for a conforming file)."""

    order: JobOrder
    deviations: tuple[SchemaIssue, ...]


def parse_ipf_date(text: str) -> datetime:
    """``YYYYMMDD_hhmmssffffff`` (ICD ``Ipf_Date``) as a UTC datetime; ValueError when malformed."""
    m = _IPF_DATE.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not an Ipf_Date (YYYYMMDD_hhmmssffffff)")
    return datetime.strptime(m[1] + m[2] + m[3], "%Y%m%d%H%M%S%f").replace(tzinfo=UTC)


def format_ipf_date(value: datetime) -> str:
    """A datetime as ``YYYYMMDD_hhmmssffffff`` (UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y%m%d_%H%M%S%f")


def gipp_type_from_name(name: str) -> str | None:
    """The type code of a VENµS-named file (``VE_TEST_GIP_CKEXTL_S_…`` → ``GIP_CKEXTL``), else None."""
    m = _VENUS_NAME.match(PurePosixPath(name.strip()).name)
    return m[1] if m else None


def _text(elem: etree._Element | None) -> str:
    return " ".join((elem.text or "").split()) if elem is not None else ""


class _Reader:
    def __init__(self, tree: etree._ElementTree, source: Path | None, lenient: bool) -> None:
        self.tree = tree
        self.source = source
        self.src = str(source) if source else "<job order>"
        self.lenient = lenient
        self.deviations: list[SchemaIssue] = []

    def where(self, elem: etree._Element) -> Located:
        return Located(line=line_of(elem), xpath=self.tree.getpath(elem))

    def deviate(self, elem: etree._Element, reason: str, *, fatal_when_strict: bool = True) -> None:
        issue = SchemaIssue(line=line_of(elem), path=self.tree.getpath(elem), reason=reason)
        if fatal_when_strict and not self.lenient:
            raise InvalidJobOrder(reason, source=self.src, line=issue.line, field=issue.path)
        self.deviations.append(issue)

    def need(self, parent: etree._Element, path: str) -> etree._Element:
        elem = parent.find(path)
        if elem is None:
            raise InvalidJobOrder(
                f"required element {path} is missing", source=self.src, line=line_of(parent),
                field=f"{self.tree.getpath(parent)}/{path}",
            )
        return elem

    def check_count(self, elem: etree._Element, child: str) -> None:
        count = elem.get("count")
        actual = len(elem.findall(child))
        if count is None:
            return  # the XSD reports a missing count
        if not count.strip().isdigit() or int(count) != actual:
            self.deviate(elem, f"count={count!r} but the list holds {actual} {child} element(s)")

    def date(self, elem: etree._Element) -> datetime | None:
        try:
            return parse_ipf_date(_text(elem))
        except ValueError as err:
            self.deviate(elem, str(err))
            return None

    def read(self) -> JobOrder:
        root = self.tree.getroot()
        conf = self.need(root, "Ipf_Conf")
        procs_list = self.need(root, "List_of_Ipf_Procs")
        procs = procs_list.findall("Ipf_Proc")
        if not procs:
            raise InvalidJobOrder("no Ipf_Proc in List_of_Ipf_Procs", source=self.src, line=line_of(procs_list),
                                  field=self.tree.getpath(procs_list))
        if len(procs) > 1:
            self.deviate(procs[1], f"{len(procs)} Ipf_Proc tasks; VIQ runs one task per job order")
        self.check_count(procs_list, "Ipf_Proc")
        proc = procs[0]

        sensing_start = sensing_stop = None
        sensing = conf.find("Sensing_Time")
        if sensing is not None:
            start, stop = sensing.find("Start"), sensing.find("Stop")
            sensing_start = self.date(start) if start is not None else None
            sensing_stop = self.date(stop) if stop is not None else None
            if sensing_start and sensing_stop and sensing_stop < sensing_start:
                assert stop is not None
                self.deviate(stop, "Sensing_Time Stop is before Start")

        gipps: list[JobGipp] = []
        gipp_list = conf.find("List_of_GIPP_Files")
        if gipp_list is not None:
            self.check_count(gipp_list, "GIPP_File")
            for g in gipp_list.iterfind("GIPP_File"):
                name = _text(g)
                gtype = gipp_type_from_name(name)
                if gtype is None:
                    self.deviate(g, f"cannot tell the GIPP type of {name!r} (not a VENµS file name)")
                    continue
                gipps.append(JobGipp(gipp_type=gtype, path=name, where=self.where(g)))

        inputs: list[JobInput] = []
        in_list = self.need(proc, "List_of_Inputs")
        self.check_count(in_list, "Input")
        for i in in_list.iterfind("Input"):
            file_type = _text(i.find("File_Type"))
            if file_type == "LOG":
                continue
            names_list = i.find("List_of_File_Names")
            names = tuple(_text(f) for f in i.iterfind("List_of_File_Names/File_Name") if _text(f))
            if names_list is not None:
                self.check_count(names_list, "File_Name")
            name_type = _text(i.find("File_Name_Type")) or "Physical"
            if name_type not in ("Physical", "Directory", "Logical", "Stem", "Regexp"):
                self.deviate(i, f"unknown File_Name_Type {name_type!r}")
                name_type = "Physical"
            inputs.append(JobInput(port=file_type, file_type=file_type, file_names=names,
                                   name_type=cast(NameType, name_type), where=self.where(i)))

        outputs: list[JobOutput] = []
        out_list = self.need(proc, "List_of_Outputs")
        self.check_count(out_list, "Output")
        for o in out_list.iterfind("Output"):
            file_type = _text(o.find("File_Type"))
            name = _text(o.find("File_Name")) or "."
            directory = name if _text(o.find("File_Name_Type")) == "Directory" else str(PurePosixPath(name).parent)
            outputs.append(JobOutput(port=file_type, file_type=file_type, directory=directory, where=self.where(o)))

        for tag in ("Processor_Conf/File_Name", "Parameter_File/File_Name"):
            elem = root.find(tag)
            if elem is not None and _text(elem):
                self.deviate(elem, f"{tag.split('/')[0]} {_text(elem)!r} is ignored by VIQ", fatal_when_strict=False)
        attachments = root.find("List_of_Attachments")
        if attachments is not None:
            self.check_count(attachments, "Attachment")

        level = _text(conf.find("Stdout_Log_Level")) or "INFO"
        levels = _LEVELS[_LEVELS.index(level):] if level in _LEVELS else _LEVELS[1:]
        return JobOrder(
            dialect="mmfi",
            source=self.source,
            processor=_text(self.need(conf, "Processor_Name")),
            version=_text(self.need(conf, "Version")),
            task=_text(proc.find("Task_Name")),
            file_class="TEST" if _text(conf.find("Test")).lower() in ("true", "1") else "OPER",
            sensing_start=sensing_start,
            sensing_stop=sensing_stop,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            gipps=tuple(gipps),
            log_levels=tuple(reversed(levels)),
        )


def order_from_tree(tree: etree._ElementTree, source: Path | None, *, lenient: bool = False) -> MmfiRead:
    """Read an ``Ipf_Job_Order`` tree.

    Strict: any violation of ``VenusJobOrder.xsd`` or any ``count`` that disagrees with its list raises
    InvalidJobOrder (128) at the first one, naming the others with their lines. Lenient: those become
    deviations; only what makes the order unreadable (no processor name, no task) still raises.
    """
    src = str(source) if source else "<job order>"
    if lenient:
        schema_issues = xsd.issues(tree, xsd.MMFI_JOB_ORDER_XSD)
    else:
        xsd.check(tree, xsd.MMFI_JOB_ORDER_XSD, src)
        schema_issues = []
    reader = _Reader(tree, source, lenient)
    order = reader.read()
    if not order.processor or not order.version:
        raise InvalidJobOrder("Processor_Name and Version must not be empty", source=src,
                              line=line_of(tree.getroot()), field="/Ipf_Job_Order/Ipf_Conf")
    issues = sorted([*schema_issues, *reader.deviations], key=lambda i: (i.line or 0, i.path))
    return MmfiRead(order=order, deviations=tuple(issues))
