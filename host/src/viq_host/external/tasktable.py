"""Read a Task Table XML file (``schemas/task_table.xsd``) into what the host needs to run an executable.

A task table read here declares an *external* processor: besides the fields every exported task table has
(processor, version, task, resources, retry, parameters with types/defaults/ranges, inputs with alternatives
and selection rules, outputs with file-name patterns, GIPPs) it names the ``Executable`` and the
``Job_Order_Dialect`` the executable reads, and may list sample inputs for ``viq processors check``.

Every problem is a :class:`TaskTableError` naming ``file:line`` and the XML path at fault.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from lxml import etree
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from viq_host.jobs import xsd
from viq_host.jobs.xmlsafe import line_of, parse_xml_bytes, read_limited
from viq_interfaces.declaration import (
    GippRequirement,
    InputPort,
    OutputPort,
    ProcessorDeclaration,
    Resources,
    RetryPolicy,
    SelectionRule,
)
from viq_interfaces.errors import ConfigurationError, InvalidJobOrder

__all__ = ["Dialect", "TaskTable", "TaskTableError", "parameters_model", "read_task_table"]

Dialect = Literal["Job_Order", "Ipf_Job_Order"]
MAX_TASK_TABLE_BYTES = 1_048_576
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


class TaskTableError(ConfigurationError):
    """Raised when a task table cannot be read, breaks its schema or declares something inconsistent."""

    def __init__(self, message: str, *, source: str, line: int | None = None, field: str | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")


@dataclass(frozen=True)
class TaskTable:
    """An external processor as declared by its task table."""

    path: Path
    declaration: ProcessorDeclaration
    parameters: type[BaseModel]
    executable: str
    """As written: absolute, relative to the task table's directory, or a bare name on PATH."""
    dialect: Dialect
    samples: dict[str, tuple[Path, ...]]
    """Sample input files per port (absolute), for the conformance check; empty when none are listed."""

    def executable_path(self) -> Path | None:
        """Where the executable is expected (None for a bare name: looked up on PATH at run time)."""
        if "/" not in self.executable:
            return None
        given = Path(self.executable)
        return given if given.is_absolute() else (self.path.parent / given)


def _text(elem: etree._Element | None, default: str = "") -> str:
    if elem is None or elem.text is None:
        return default
    return elem.text.strip()


def _duration(text: str) -> timedelta:
    m = _DURATION.match(text.strip())
    if m is None or text.strip() in ("P", "PT"):
        raise ValueError(f"walltime {text!r} is not a day/time xs:duration like PT1H30M")
    parts = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


_SCALARS: dict[str, Any] = {"integer": int, "number": float, "boolean": bool, "string": str, "null": type(None)}


def _python_type(type_text: str) -> Any:
    alternatives: list[Any] = []
    for name in (part.strip() for part in type_text.split("|")):
        if name in _SCALARS:
            alternatives.append(_SCALARS[name])
        elif name == "array":
            alternatives.append(list[Any])
        elif name == "object":
            alternatives.append(dict[str, Any])
        else:
            raise ValueError(f"unknown parameter type {name!r} (integer, number, boolean, string, array, object, null)")
    result: Any = alternatives[0]
    for alt in alternatives[1:]:
        result = result | alt
    return result


def _typed_value(text: str, type_text: str) -> Any:
    """A Default or allowed value as written: strings stay text, anything else is JSON."""
    kinds = {part.strip() for part in type_text.split("|")}
    if kinds == {"string"}:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if "string" in kinds:
            return text
        raise ValueError(f"value {text!r} is not JSON for type {type_text}") from None


@dataclass(frozen=True)
class ParameterSpec:
    """One ``Proc_Parameter`` of a task table."""

    name: str
    type_text: str
    default: Any
    description: str
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    exclusive_maximum: float | None = None
    allowed: tuple[Any, ...] = ()


def _one_of(name: str, allowed: tuple[Any, ...]) -> Any:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"{name} must be one of {list(allowed)}")
        return value

    return AfterValidator(check)


def parameters_model(model_name: str, specs: list[ParameterSpec]) -> type[BaseModel]:
    """A pydantic model (``extra="forbid"``, frozen) with one field per parameter, its default, range and choices."""
    fields: dict[str, Any] = {}
    for spec in specs:
        annotation = _python_type(spec.type_text)
        extra: dict[str, Any] | None = None
        if spec.allowed:
            annotation = Annotated[annotation, _one_of(spec.name, spec.allowed)]
            extra = {"enum": list(spec.allowed)}
        fields[spec.name] = (
            annotation,
            Field(
                default=spec.default,
                description=spec.description or spec.name,
                ge=spec.minimum,
                gt=spec.exclusive_minimum,
                le=spec.maximum,
                lt=spec.exclusive_maximum,
                json_schema_extra=extra,
            ),
        )
    model: type[BaseModel] = create_model(
        model_name,
        __config__=ConfigDict(extra="forbid", frozen=True, validate_default=True),
        **fields,
    )
    model.__doc__ = f"Parameters of the external processor {model_name} (generated from its task table)."
    return model


class _Reader:
    def __init__(self, path: Path, tree: etree._ElementTree) -> None:
        self.path = path
        self.src = str(path)
        self.tree = tree

    def fail(self, elem: etree._Element | None, message: str) -> TaskTableError:
        if elem is None:
            return TaskTableError(message, source=self.src)
        return TaskTableError(message, source=self.src, line=line_of(elem), field=self.tree.getpath(elem))

    def need(self, parent: etree._Element, tag: str) -> etree._Element:
        elem = parent.find(tag)
        if elem is None:  # excluded by the XSD; kept for type narrowing
            raise self.fail(parent, f"{tag} is missing")
        return elem

    def parameter(self, node: etree._Element) -> ParameterSpec:
        name = _text(node.find("Name"))
        if not _IDENTIFIER.match(name) or keyword.iskeyword(name) or name.startswith("model_"):
            raise self.fail(node.find("Name"), f"parameter name {name!r} must be an identifier (letters, digits, _)")
        type_text = _text(node.find("Type"))
        try:
            _python_type(type_text)
        except ValueError as err:
            raise self.fail(node.find("Type"), str(err)) from err
        default_elem = node.find("Default")
        if default_elem is None:
            raise self.fail(node, f"parameter {name!r} has no Default (every parameter of a processor needs one)")
        try:
            default = _typed_value(default_elem.text or "", type_text)
            values = node.iterfind("List_of_Allowed_Values/Value")
            allowed = tuple(_typed_value(v.text or "", type_text) for v in values)
        except ValueError as err:
            raise self.fail(default_elem, f"parameter {name!r}: {err}") from err

        def bound(tag: str) -> float | None:
            text = _text(node.find(tag))
            return float(text) if text else None

        return ParameterSpec(
            name=name,
            type_text=type_text,
            default=default,
            description=_text(node.find("Description")),
            minimum=bound("Minimum"),
            exclusive_minimum=bound("Exclusive_Minimum"),
            maximum=bound("Maximum"),
            exclusive_maximum=bound("Exclusive_Maximum"),
            allowed=allowed,
        )

    def read(self) -> TaskTable:
        root = self.tree.getroot()
        tasks = root.findall("List_of_Tasks/Task")
        if len(tasks) != 1:
            raise self.fail(root.find("List_of_Tasks"), f"an external processor has one Task, found {len(tasks)}")
        task = tasks[0]
        for lst in root.iter():
            count = lst.get("count")
            if count is not None and int(count) != len(lst):
                raise self.fail(lst, f"count={count} but the list holds {len(lst)} element(s)")
        exe_elem = task.find("Executable")
        executable = _text(exe_elem)
        if not executable:
            raise self.fail(task, "Executable is missing: a task table read as an external processor names its program")
        dialect: Dialect = "Ipf_Job_Order" if _text(task.find("Job_Order_Dialect")) == "Ipf_Job_Order" else "Job_Order"

        res = self.need(task, "Resources")
        walltime_elem = self.need(res, "Walltime")
        try:
            walltime = _duration(_text(walltime_elem))
        except ValueError as err:
            raise self.fail(walltime_elem, str(err)) from err
        retry_elem = task.find("Retry")
        retry = RetryPolicy()
        if retry_elem is not None:
            retry = RetryPolicy(
                max_attempts=int(_text(retry_elem.find("Max_Attempts"), "1")),
                retry_on=tuple(int(c) for c in _text(retry_elem.find("Retry_On_Exit_Codes")).split()),
                rerunnable=_text(retry_elem.find("Rerunnable"), "true") in ("true", "1"),
                backoff_seconds=float(_text(retry_elem.find("Backoff_Seconds"), "0")),
            )

        def max_count(elem: etree._Element | None) -> int | None:
            text = _text(elem, "1")
            return None if text == "unbounded" else int(text)

        try:
            inputs = tuple(
                InputPort(
                    name=_text(node.find("Input_ID")),
                    product_types=tuple(
                        _text(alt.find("File_Type"))
                        for alt in sorted(node.iterfind("List_of_Alternatives/Alternative"),
                                          key=lambda a: int(_text(a.find("Order"), "1")))
                    ),
                    mandatory=_text(node.find("Mandatory")) in ("true", "1"),
                    min_count=int(_text(node.find("Min_Count"), "1")),
                    max_count=max_count(node.find("Max_Count")),
                    selection=SelectionRule(_text(node.find("Selection_Rule"), "Explicit")),
                    description=_text(node.find("Description")),
                )
                for node in task.iterfind("List_of_Inputs/Input")
            )
            outputs = tuple(
                OutputPort(
                    name=_text(node.find("Output_ID")),
                    product_type=_text(node.find("File_Type")),
                    format=_text(node.find("Format"), "GTiff"),
                    min_count=int(_text(node.find("Min_Count"), "1")),
                    max_count=max_count(node.find("Max_Count")),
                    file_name_pattern=_text(node.find("File_Name_Pattern"), "*"),
                    description=_text(node.find("Description")),
                )
                for node in task.iterfind("List_of_Outputs/Output")
            )
            gipps = tuple(
                GippRequirement(
                    gipp_type=_text(node.find("File_Type")),
                    mandatory=_text(node.find("Mandatory")) in ("true", "1"),
                    per_band=_text(node.find("Per_Band")) in ("true", "1"),
                )
                for node in task.iterfind("List_of_GIPPs/GIPP")
            )
            declaration = ProcessorDeclaration(
                name=_text(root.find("Processor_Name")),
                version=_text(root.find("Processor_Version")),
                description=_text(root.find("Description")) or f"External processor {executable}",
                task_name=_text(task.find("Task_Name")),
                inputs=inputs,
                outputs=outputs,
                gipps=gipps,
                resources=Resources(
                    cores=int(_text(res.find("Number_of_CPU_Cores"), "1")),
                    memory_mb=int(_text(res.find("Amount_of_RAM_MiB"), "1024")),
                    disk_mb=int(_text(res.find("Disk_Space_MiB"), "1024")),
                    walltime=walltime,
                ),
                retry=retry,
            )
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise self.fail(task, f"declaration invalid: {loc}: {first['msg']}") from err

        specs = [self.parameter(node) for node in task.iterfind("List_of_Proc_Parameters/Proc_Parameter")]
        class_name = "".join(part.capitalize() for part in declaration.name.split("-")) + "Parameters"
        try:
            model = parameters_model(class_name, specs)
            model()
        except (ValidationError, TypeError) as err:
            raise self.fail(task.find("List_of_Proc_Parameters"), f"a parameter default is invalid: {err}") from err

        samples: dict[str, list[Path]] = {}
        ports = {p.name for p in inputs}
        for node in task.iterfind("List_of_Sample_Inputs/Sample_Input"):
            port = _text(node.find("Input_ID"))
            if port not in ports:
                raise self.fail(node, f"sample input for unknown port {port!r}")
            file_name = Path(_text(node.find("File_Name")))
            samples.setdefault(port, []).append(file_name if file_name.is_absolute() else self.path.parent / file_name)
        return TaskTable(
            path=self.path,
            declaration=declaration,
            parameters=model,
            executable=executable,
            dialect=dialect,
            samples={k: tuple(v) for k, v in samples.items()},
        )


def read_task_table(path: Path, *, max_bytes: int = MAX_TASK_TABLE_BYTES) -> TaskTable:
    """Read and check the task table at ``path``: well-formed, valid against the XSD, consistent.

    Raises :class:`TaskTableError` (a ConfigurationError) naming ``file:line`` and the element at fault.
    """
    path = Path(path).absolute()
    src = str(path)
    try:
        tree = parse_xml_bytes(read_limited(path, max_bytes), src, max_bytes=max_bytes)
    except InvalidJobOrder as err:
        raise TaskTableError(err.message, source=src, line=err.line, field=err.field) from err
    root = tree.getroot()
    if root.tag != "Task_Table":
        raise TaskTableError(f"root element <{root.tag}> is not <Task_Table>", source=src, line=line_of(root))
    issues = xsd.issues(tree, xsd.TASK_TABLE_XSD)
    if issues:
        first = issues[0]
        more = ""
        if len(issues) > 1:
            more = f" (+{len(issues) - 1} more: " + "; ".join(i.describe() for i in issues[1:4]) + ")"
        raise TaskTableError(f"does not match task_table.xsd: {first.reason}{more}", source=src, line=first.line,
                             field=first.path or None)
    return _Reader(path, tree).read()
