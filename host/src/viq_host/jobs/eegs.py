"""Our EEGS-style ``Job_Order`` dialect (``schemas/job_order.xsd``): read into a JobOrder, and write one.

The reader expects a tree that already passed the XSD (see :mod:`viq_host.jobs.reader`); it records the
source line and XML path of every input, output, GIPP and parameter so that later validation layers can
name them.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

from lxml import etree

from viq_host.jobs.model import JobGipp, JobInput, JobOrder, JobOutput, JobParameter, Located
from viq_host.jobs.xmlsafe import line_of
from viq_interfaces.errors import InvalidJobOrder

__all__ = ["ROOT", "SCHEMA_NAME", "SCHEMA_VERSION", "job_order_xml", "order_from_tree", "write_job_order"]

ROOT = "Job_Order"
SCHEMA_NAME = "VIQ-Job-Order"
SCHEMA_VERSION = "1.0"

NameType = Literal["Physical", "Directory", "Logical", "Stem", "Regexp"]


def _text(elem: etree._Element | None, default: str = "") -> str:
    if elem is None or elem.text is None:
        return default
    return " ".join(elem.text.split())


def _where(tree: etree._ElementTree, elem: etree._Element) -> Located:
    return Located(line=line_of(elem), xpath=tree.getpath(elem))


def parse_datetime(text: str, *, source: str, elem: etree._Element) -> datetime:
    """An ``xs:dateTime`` as an aware datetime (UTC when no offset is given)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise InvalidJobOrder(
            f"not a date-time: {text!r}", source=source, line=line_of(elem), field=elem.tag
        ) from err
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def order_from_tree(tree: etree._ElementTree, source: Path | None) -> JobOrder:
    """The JobOrder of a schema-valid ``Job_Order`` tree."""
    src = str(source) if source else "<job order>"
    root = tree.getroot()
    conf = root.find("Processor_Configuration")
    task = root.find("List_of_Tasks/Task")
    if conf is None or task is None:  # excluded by the XSD; kept for type narrowing
        raise InvalidJobOrder("Processor_Configuration or Task missing", source=src, line=line_of(root))

    sensing_start = sensing_stop = None
    sensing = conf.find("Sensing_Time")
    if sensing is not None:
        start, stop = sensing.find("Start"), sensing.find("Stop")
        assert start is not None and stop is not None
        sensing_start = parse_datetime(_text(start), source=src, elem=start)
        sensing_stop = parse_datetime(_text(stop), source=src, elem=stop)
        if sensing_stop < sensing_start:
            raise InvalidJobOrder(
                "Sensing_Time Stop is before Start", source=src, line=line_of(stop), field=tree.getpath(stop)
            )

    parameters = tuple(
        JobParameter(name=_text(p.find("Name")), value=(p.findtext("Value") or ""), where=_where(tree, p))
        for p in task.iterfind("List_of_Proc_Parameters/Proc_Parameter")
    )
    inputs = tuple(
        JobInput(
            port=_text(i.find("Input_ID")),
            file_type=_text(i.find("File_Type")),
            name_type=cast(NameType, _text(i.find("File_Name_Type"), "Physical")),
            file_names=tuple(_text(f) for f in i.iterfind("List_of_File_Names/File_Name")),
            where=_where(tree, i),
        )
        for i in task.iterfind("List_of_Inputs/Input")
    )
    outputs = tuple(
        JobOutput(
            port=_text(o.find("Output_ID")),
            file_type=_text(o.find("File_Type")),
            directory=_text(o.find("File_Dir"), "."),
            where=_where(tree, o),
        )
        for o in task.iterfind("List_of_Outputs/Output")
    )
    gipps = tuple(
        JobGipp(gipp_type=_text(g.find("File_Type")), path=_text(g.find("File_Name")), where=_where(tree, g))
        for g in task.iterfind("List_of_GIPP_Files/GIPP_File")
    )
    cores = task.findtext("Number_of_CPU_Cores")
    ram = task.findtext("Amount_of_RAM")
    levels = tuple(_text(e) for e in conf.iterfind("List_of_Stdout_Log_Levels/Stdout_Log_Level"))
    return JobOrder(
        dialect="eegs",
        source=source,
        processor=_text(conf.find("Processor_Name")),
        version=_text(conf.find("Processor_Version")),
        task=_text(task.find("Task_Name")),
        file_class=_text(conf.find("File_Class"), "OPER"),
        sensing_start=sensing_start,
        sensing_stop=sensing_stop,
        site=_text(conf.find("Site")) or None,
        parameters=parameters,
        inputs=inputs,
        outputs=outputs,
        gipps=gipps,
        cores=int(cores) if cores else None,
        ram_bytes=int(ram) if ram else None,
        **({"log_levels": levels} if conf.find("List_of_Stdout_Log_Levels") is not None else {}),
    )


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    elem = etree.SubElement(parent, tag)
    if text is not None:
        elem.text = text
    return elem


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def job_order_xml(order: JobOrder) -> bytes:
    """The order as ``Job_Order`` XML (UTF-8, valid against ``schemas/job_order.xsd``), whatever its dialect."""
    root = etree.Element(ROOT, schemaName=SCHEMA_NAME, schemaVersion=SCHEMA_VERSION)
    conf = _sub(root, "Processor_Configuration")
    _sub(conf, "File_Class", order.file_class)
    _sub(conf, "Processor_Name", order.processor)
    _sub(conf, "Processor_Version", order.version)
    levels = _sub(conf, "List_of_Stdout_Log_Levels")
    for level in order.log_levels:
        _sub(levels, "Stdout_Log_Level", level)
    stderr_levels = _sub(conf, "List_of_Stderr_Log_Levels")
    for level in order.log_levels:
        if level in ("WARNING", "ERROR"):
            _sub(stderr_levels, "Stderr_Log_Level", level)
    if order.sensing_start is not None or order.sensing_stop is not None:
        if order.sensing_start is None or order.sensing_stop is None:
            raise InvalidJobOrder("sensing_start and sensing_stop must be given together", field="Sensing_Time")
        sensing = _sub(conf, "Sensing_Time")
        _sub(sensing, "Start", _iso(order.sensing_start))
        _sub(sensing, "Stop", _iso(order.sensing_stop))
    if order.site:
        _sub(conf, "Site", order.site)

    task = _sub(_sub(root, "List_of_Tasks"), "Task")
    _sub(task, "Task_Name", order.task or order.processor)
    _sub(task, "Task_Version", order.version)
    if order.cores is not None:
        _sub(task, "Number_of_CPU_Cores", str(order.cores))
    if order.ram_bytes is not None:
        _sub(task, "Amount_of_RAM", str(order.ram_bytes))
    params = _sub(task, "List_of_Proc_Parameters")
    for p in order.parameters:
        node = _sub(params, "Proc_Parameter")
        _sub(node, "Name", p.name)
        _sub(node, "Value", p.value)
    inputs = _sub(task, "List_of_Inputs")
    for i in order.inputs:
        node = _sub(inputs, "Input")
        _sub(node, "Input_ID", i.port)
        _sub(node, "File_Type", i.file_type)
        if i.name_type != "Physical":
            _sub(node, "File_Name_Type", i.name_type)
        names = _sub(node, "List_of_File_Names")
        for name in i.file_names:
            _sub(names, "File_Name", name)
    outputs = _sub(task, "List_of_Outputs")
    for o in order.outputs:
        node = _sub(outputs, "Output")
        _sub(node, "Output_ID", o.port)
        _sub(node, "File_Type", o.file_type)
        _sub(node, "File_Dir", o.directory)
    if order.gipps:
        gipps = _sub(task, "List_of_GIPP_Files")
        for g in order.gipps:
            node = _sub(gipps, "GIPP_File")
            _sub(node, "File_Type", g.gipp_type)
            _sub(node, "File_Name", g.path)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def write_job_order(order: JobOrder, path: Path) -> None:
    """Write ``order`` as ``Job_Order`` XML at ``path`` atomically (a temporary file, then a rename)."""
    data = job_order_xml(order)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
