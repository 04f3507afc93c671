"""The job order an external executable reads, written from its run context in the dialect its task table asks.

``Job_Order`` (ours, EEGS style) is written by :func:`viq_host.jobs.eegs.write_job_order`; ``Ipf_Job_Order``
(MMFI, the dialect of the VENµS ground segment) by :func:`write_ipf_job_order` here, valid against
``schemas/maja/VenusJobOrder.xsd``. The MMFI dialect has no inline parameters: they go to a
``Parameter_File`` next to the order (one element per parameter, in the manner of
``VenusJobOrder_ParameterFile.xsd``), named by ``Parameter_File/File_Name``. It has no port names either:
the executable recognises its inputs by ``File_Type``.

Every parameter is written with its value in force (given or default), so the executable needs no defaults of
its own; input, GIPP and output paths are absolute.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import BaseModel

from viq_host.jobs.build import param_text
from viq_host.jobs.mmfi import format_ipf_date
from viq_host.jobs.model import JobGipp, JobInput, JobOrder, JobOutput, JobParameter
from viq_interfaces.context import GippInForce, InputProduct
from viq_interfaces.declaration import ProcessorDeclaration

__all__ = ["NO_SENSING", "ipf_job_order_xml", "order_for_run", "parameter_file_xml", "write_ipf_job_order"]

NO_SENSING = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
"""Sensing window written when the job has none (``Ipf_Date`` admits only the years 1900–2099)."""


def order_for_run(
    declaration: ProcessorDeclaration,
    *,
    params: BaseModel,
    inputs: Mapping[str, tuple[InputProduct, ...]],
    gipps: Mapping[str, tuple[GippInForce, ...]],
    output_dir: Path,
    sensing: tuple[datetime, datetime] | None = None,
    site: str | None = None,
) -> JobOrder:
    """The in-memory order of one run: every parameter value, absolute paths, every output to ``output_dir``."""
    values: dict[str, Any] = params.model_dump(mode="json")
    return JobOrder(
        dialect="eegs",
        processor=declaration.name,
        version=declaration.version,
        task=declaration.task_name or declaration.name,
        sensing_start=sensing[0] if sensing else None,
        sensing_stop=sensing[1] if sensing else None,
        site=site,
        parameters=tuple(JobParameter(name=k, value=param_text(v)) for k, v in values.items()),
        inputs=tuple(
            JobInput(
                port=port,
                file_type=products[0].product_type,
                file_names=tuple(str(p.path) for p in products),
                name_type="Directory" if products[0].path.is_dir() else "Physical",
            )
            for port, products in inputs.items()
            if products
        ),
        outputs=tuple(
            JobOutput(port=p.name, file_type=p.product_type, directory=str(output_dir)) for p in declaration.outputs
        ),
        gipps=tuple(JobGipp(gipp_type=t, path=str(g.path)) for t, items in gipps.items() for g in items),
    )


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    elem = etree.SubElement(parent, tag, attrib=attrib)
    if text is not None:
        elem.text = text
    return elem


def parameter_file_xml(order: JobOrder) -> bytes:
    """``<Parameter_File>`` with one element per parameter (name → value text)."""
    root = etree.Element("Parameter_File")
    for p in order.parameters:
        _sub(root, p.name, p.value)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def ipf_job_order_xml(order: JobOrder, parameter_file: str = "") -> bytes:
    """``order`` as an MMFI ``Ipf_Job_Order`` (valid against ``schemas/maja/VenusJobOrder.xsd``)."""
    start, stop = NO_SENSING
    if order.sensing_start is not None and order.sensing_stop is not None:
        start, stop = order.sensing_start, order.sensing_stop
    root = etree.Element("Ipf_Job_Order")
    conf = _sub(root, "Ipf_Conf")
    _sub(conf, "Processor_Name", order.processor)
    _sub(conf, "Version", order.version)
    _sub(conf, "Order_Type", "")
    _sub(conf, "Production_Request_Id", "")
    levels = [level for level in ("DEBUG", "INFO", "PROGRESS", "WARNING", "ERROR") if level in order.log_levels]
    _sub(conf, "Stdout_Log_Level", levels[0] if levels else "INFO")
    _sub(conf, "Stderr_Log_Level", "WARNING")
    _sub(conf, "Test", "true" if order.file_class == "TEST" else "false")
    _sub(conf, "Breakpoint_Enable", "false")
    _sub(conf, "Acquisition_Station", "")
    _sub(conf, "Processing_Station", "")
    _sub(conf, "Config_Files", "")
    sensing = _sub(conf, "Sensing_Time")
    _sub(sensing, "Start", format_ipf_date(start))
    _sub(sensing, "Stop", format_ipf_date(stop))
    gipp_list = _sub(conf, "List_of_GIPP_Files", count=str(len(order.gipps)))
    for g in order.gipps:
        _sub(gipp_list, "GIPP_File", g.path)

    procs = _sub(root, "List_of_Ipf_Procs", count="1")
    proc = _sub(procs, "Ipf_Proc")
    _sub(proc, "Task_Name", order.task or order.processor)
    _sub(proc, "Task_Version", order.version)
    _sub(_sub(proc, "Breakpoint"), "List_of_Brk_Files", count="0")
    inputs = _sub(proc, "List_of_Inputs", count=str(len(order.inputs)))
    for i in order.inputs:
        node = _sub(inputs, "Input")
        _sub(node, "File_Type", i.file_type)
        _sub(node, "File_Name_Type", "Physical")  # the input enumeration of VenusJobOrder.xsd has no Directory
        names = _sub(node, "List_of_File_Names", count=str(len(i.file_names)))
        for name in i.file_names:
            _sub(names, "File_Name", name)
        intervals = _sub(node, "List_of_Time_Intervals", count=str(len(i.file_names)))
        for name in i.file_names:
            interval = _sub(intervals, "Time_Interval")
            _sub(interval, "Start", format_ipf_date(start))
            _sub(interval, "Stop", format_ipf_date(stop))
            _sub(interval, "File_Name", name)
    outputs = _sub(proc, "List_of_Outputs", count=str(len(order.outputs)))
    for o in order.outputs:
        node = _sub(outputs, "Output")
        _sub(node, "File_Type", o.file_type)
        _sub(node, "File_Name_Type", "Directory")
        _sub(node, "File_Name", o.directory)
    _sub(_sub(root, "Processor_Conf"), "File_Name", "")
    _sub(_sub(root, "Parameter_File"), "File_Name", parameter_file)
    _sub(root, "List_of_Attachments", count="0")
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_ipf_job_order(order: JobOrder, path: Path) -> Path:
    """Write ``order`` as ``Ipf_Job_Order`` at ``path`` and its parameters next to it; returns the parameter file."""
    path = Path(path)
    params_path = path.with_name(path.stem + "_Parameters.xml")
    _atomic_write(params_path, parameter_file_xml(order))
    _atomic_write(path, ipf_job_order_xml(order, str(params_path)))
    return params_path
