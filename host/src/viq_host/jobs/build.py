"""Build an EEGS job order from a processor declaration (used by ``viq run`` and the testing kit).

The order names only what matters to the caller — files per input port, parameter values — and takes
the rest from the declaration: task name, output ports, and each input's File_Type (the accepted type
whose code appears in the file name, else the port's preferred type).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from viq_host.jobs.model import JobInput, JobOrder, JobOutput, JobParameter
from viq_interfaces.declaration import InputPort, ProcessorDeclaration

PathLike = str | Path


def param_text(value: Any) -> str:
    """A parameter value as job-order text: booleans ``true``/``false``, containers as JSON, else ``str``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def file_type_for(port: InputPort, path: PathLike) -> str:
    """The accepted product type whose code appears in the file name, else the port's preferred type."""
    name = Path(path).name
    for code in port.product_types:
        if code in name:
            return code
    return port.product_types[0]


def build_job_order(
    declaration: ProcessorDeclaration,
    *,
    inputs: Mapping[str, Sequence[PathLike]] | None = None,
    params: Mapping[str, Any] | None = None,
    file_types: Mapping[str, str] | None = None,
    sensing: tuple[datetime, datetime] | None = None,
    site: str | None = None,
) -> JobOrder:
    """An in-memory EEGS JobOrder for ``declaration`` (inputs by port, parameters as values)."""
    ports = {p.name: p for p in declaration.inputs}
    job_inputs: list[JobInput] = []
    for port_name, paths in (inputs or {}).items():
        names = tuple(str(p) for p in paths)
        if port_name in ports:
            port = ports[port_name]
            ftype = (file_types or {}).get(port_name) or file_type_for(port, names[0] if names else "")
        else:  # an unknown port is passed through so that tests can check it is rejected
            ftype = (file_types or {}).get(port_name, "UNKNOWN___")
        job_inputs.append(JobInput(port=port_name, file_type=ftype, file_names=names))
    return JobOrder(
        dialect="eegs",
        processor=declaration.name,
        version=declaration.version,
        task=declaration.task_name or declaration.name,
        sensing_start=sensing[0] if sensing else None,
        sensing_stop=sensing[1] if sensing else None,
        site=site,
        parameters=tuple(JobParameter(name=k, value=param_text(v)) for k, v in (params or {}).items()),
        inputs=tuple(job_inputs),
        outputs=tuple(JobOutput(port=p.name, file_type=p.product_type, directory="out") for p in declaration.outputs),
    )
