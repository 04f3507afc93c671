"""Layered validation of a job order against the registry, the processor declaration and the file system.

Layers, each stopping at its first error (an :class:`~viq_interfaces.errors.InvalidJobOrder` naming the
file, the line and the field):

1. processor: ``Processor_Name``/``Processor_Version`` registered and enabled (exit code 129);
2. declaration: task name, input ports (unknown port, missing mandatory port, too few/too many files,
   File_Type not accepted by the port), output ports, parameters through the processor's pydantic model
   (unknown name, wrong type, out of range: 147), GIPPs (missing mandatory GIPP: 135);
3. file system: every input and GIPP path, resolved relative to the job order's directory, lies inside
   one of ``settings.data_roots`` both before and after following symbolic links (130), exists and is
   readable (134); output directories stay inside the work directory (130).

The XML layers (hardened parse, XSD) are in :mod:`viq_host.jobs.reader`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from viq_host.config import Settings
from viq_host.jobs.model import JobGipp, JobInput, JobOrder, Located
from viq_host.plugins import Plugins
from viq_interfaces.context import GippInForce, InputProduct
from viq_interfaces.declaration import GippRequirement, InputPort, ProcessorDeclaration
from viq_interfaces.errors import GippError, InvalidJobOrder, RegistryError
from viq_interfaces.exitcodes import ExitCode
from viq_interfaces.processor import Processor

__all__ = ["GippResolver", "ValidatedJob", "plan", "validate_job_order"]

GippResolver = Callable[[GippRequirement, JobOrder], tuple[GippInForce, ...]]
"""Returns the GIPPs of one required type in force for a job (the GIPP store plugs in here)."""

_SERIAL = re.compile(r"_(\d{5})_\d{8}_\d{8}")


@dataclass(frozen=True)
class ValidatedJob:
    """A job order that passed every layer, with everything the worker needs resolved."""

    order: JobOrder
    processor: type[Processor]
    declaration: ProcessorDeclaration
    params: BaseModel
    inputs: Mapping[str, tuple[InputProduct, ...]]
    output_ports: tuple[str, ...]
    gipps: Mapping[str, tuple[GippInForce, ...]]
    warnings: tuple[str, ...]


class _Check:
    """Raises positioned errors for one order."""

    def __init__(self, order: JobOrder) -> None:
        self.order = order
        self.src = str(order.source) if order.source else "<job order>"

    def error(
        self, message: str, code: ExitCode, *, where: Located | None = None, field: str | None = None
    ) -> InvalidJobOrder:
        return InvalidJobOrder(
            message,
            source=self.src,
            line=where.line if where else None,
            field=field if field is not None else (where.xpath if where and where.xpath else None),
            exit_code=int(code),
        )

    def fail(
        self, message: str, code: ExitCode, *, where: Located | None = None, field: str | None = None
    ) -> NoReturn:
        raise self.error(message, code, where=where, field=field)


# ---------------------------------------------------------------- layer 1: processor


def _processor(order: JobOrder, plugins: Plugins, chk: _Check) -> type[Processor]:
    try:
        return plugins.processors.get(order.processor, order.version)
    except RegistryError as err:
        field = "Processor_Name" if "unknown" in str(err) else "Processor_Version"
        raise chk.error(str(err), ExitCode.UNKNOWN_PROCESSOR, field=field) from err


# ---------------------------------------------------------------- layer 2: declaration


def _port_for(inp: JobInput, decl: ProcessorDeclaration, dialect: str) -> InputPort | None:
    names = {p.name: p for p in decl.inputs}
    if inp.port in names:
        return names[inp.port]
    if dialect == "mmfi":  # MMFI inputs carry only a File_Type: map it onto the port that accepts it
        matching = [p for p in decl.inputs if inp.file_type in p.product_types]
        if len(matching) == 1:
            return matching[0]
    return None


def _assign_inputs(
    order: JobOrder, decl: ProcessorDeclaration, chk: _Check, warnings: list[str]
) -> tuple[dict[str, list[JobInput]], list[JobGipp]]:
    assigned: dict[str, list[JobInput]] = {}
    gipp_inputs: list[JobGipp] = []
    gipp_types = {g.gipp_type for g in decl.gipps}
    for inp in order.inputs:
        port = _port_for(inp, decl, order.dialect)
        if port is None:
            if order.dialect == "mmfi" and inp.file_type in gipp_types:
                gipp_inputs += [JobGipp(gipp_type=inp.file_type, path=n, where=inp.where) for n in inp.file_names]
                continue
            known = ", ".join(p.name for p in decl.inputs) or "none"
            what = f"File_Type {inp.file_type}" if order.dialect == "mmfi" else f"input port {inp.port!r}"
            chk.fail(f"{what} is not an input of {decl.key} (inputs: {known})", ExitCode.JOB_ORDER_ERROR,
                     where=inp.where)
        if inp.file_type not in port.product_types:
            chk.fail(
                f"File_Type {inp.file_type} is not accepted by input port {port.name!r} "
                f"(accepts {', '.join(port.product_types)})",
                ExitCode.JOB_ORDER_ERROR,
                where=inp.where,
                field=f"{inp.where.xpath}/File_Type",
            )
        if inp.name_type not in ("Physical", "Directory"):
            chk.fail(f"File_Name_Type {inp.name_type} is not supported (Physical or Directory)",
                     ExitCode.JOB_ORDER_ERROR, where=inp.where, field=f"{inp.where.xpath}/File_Name_Type")
        assigned.setdefault(port.name, []).append(inp)
    for port in decl.inputs:
        given = assigned.get(port.name, [])
        count = sum(len(i.file_names) for i in given)
        where = given[0].where if given else None
        if not given and port.mandatory:
            chk.fail(f"mandatory input port {port.name!r} ({', '.join(port.product_types)}) is missing",
                     ExitCode.MISSING_INPUT, field=f"List_of_Inputs/Input[Input_ID={port.name}]")
        if given and count < port.min_count:
            chk.fail(f"input port {port.name!r} needs at least {port.min_count} file(s), got {count}",
                     ExitCode.MISSING_INPUT, where=where)
        if port.max_count is not None and count > port.max_count:
            chk.fail(f"input port {port.name!r} takes at most {port.max_count} file(s), got {count}",
                     ExitCode.JOB_ORDER_ERROR, where=where)
    return assigned, gipp_inputs


def _check_outputs(order: JobOrder, decl: ProcessorDeclaration, chk: _Check) -> None:
    names = {p.name: p for p in decl.outputs}
    for out in order.outputs:
        port = names.get(out.port)
        if port is None and order.dialect == "mmfi":
            matching = [p for p in decl.outputs if p.product_type == out.file_type]
            port = matching[0] if len(matching) == 1 else None
        if port is None:
            known = ", ".join(names) or "none"
            chk.fail(f"output port {out.port!r} is not an output of {decl.key} (outputs: {known})",
                     ExitCode.JOB_ORDER_ERROR, where=out.where)
        if out.file_type != port.product_type:
            chk.fail(f"File_Type {out.file_type} does not match output port {port.name!r} ({port.product_type})",
                     ExitCode.JOB_ORDER_ERROR, where=out.where, field=f"{out.where.xpath}/File_Type")
        rel = PurePosixPath(out.directory)
        if rel.is_absolute() or os.path.normpath(out.directory).startswith(".."):
            chk.fail(f"File_Dir {out.directory!r} must stay inside the work directory", ExitCode.FILE_SYSTEM_ERROR,
                     where=out.where, field=f"{out.where.xpath}/File_Dir")


_JSON_SHAPED = ("[", "{")


def _raw_value(raw: str, info: FieldInfo) -> Any:
    """Proc_Parameter values are strings; JSON text is decoded for list/dict/model-valued fields."""
    text = raw.strip()
    if info.annotation is not str and text.startswith(_JSON_SHAPED):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw


def _params(order: JobOrder, proc: type[Processor], chk: _Check) -> BaseModel:
    model = proc.Parameters
    fields = model.model_fields
    by_name = {p.name: p for p in order.parameters}
    values: dict[str, Any] = {}
    for p in order.parameters:
        if p.name not in fields:
            known = ", ".join(fields) or "none"
            chk.fail(f"unknown parameter {p.name!r} (parameters of {proc.declaration.key}: {known})",
                     ExitCode.PARAMETER_ERROR, where=p.where, field=p.name)
        values[p.name] = _raw_value(p.value, fields[p.name])
    try:
        return model.model_validate(values, strict=False)
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        given = by_name.get(name)
        more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
        value = f"={given.value!r}" if given else ""
        raise chk.error(f"parameter {name}{value}: {first['msg']}{more}", ExitCode.PARAMETER_ERROR,
                        where=given.where if given else None, field=name or None) from err


def _gipp_plan(
    order: JobOrder,
    decl: ProcessorDeclaration,
    explicit: list[JobGipp],
    resolver: GippResolver | None,
    chk: _Check,
    warnings: list[str],
) -> tuple[dict[str, list[JobGipp]], dict[str, tuple[GippInForce, ...]]]:
    required = {r.gipp_type: r for r in decl.gipps}
    by_type: dict[str, list[JobGipp]] = {}
    for g in explicit:
        if g.gipp_type not in required:
            warnings.append(f"{chk.src}:{g.where.line}: GIPP {g.path} ({g.gipp_type}) is not used by {decl.key}; "
                            "ignored")
            continue
        by_type.setdefault(g.gipp_type, []).append(g)
    resolved: dict[str, tuple[GippInForce, ...]] = {}
    for req in decl.gipps:
        if req.gipp_type in by_type:
            continue
        found: tuple[GippInForce, ...] = ()
        if resolver is not None:
            try:
                found = tuple(resolver(req, order))
            except GippError as err:
                raise chk.error(f"GIPP {req.gipp_type}: {err}", ExitCode.GIPP_ERROR, field=req.gipp_type) from err
        if found:
            resolved[req.gipp_type] = found
        elif req.mandatory:
            why = "none in force" if resolver is not None else "the job order names none and no GIPP store is used"
            chk.fail(f"mandatory GIPP of type {req.gipp_type} missing: {why}", ExitCode.GIPP_ERROR,
                     field=f"List_of_GIPP_Files/GIPP_File[File_Type={req.gipp_type}]")
        else:
            warnings.append(f"optional GIPP {req.gipp_type}: none given or in force")
    return by_type, resolved


# ---------------------------------------------------------------- layer 3: file system


@dataclass(frozen=True)
class _Roots:
    lexical: tuple[Path, ...]
    resolved: tuple[Path, ...]

    @classmethod
    def of(cls, settings: Settings) -> _Roots:
        lexical = tuple(Path(os.path.normpath(Path(r).absolute())) for r in settings.data_roots)
        return cls(lexical=lexical, resolved=tuple(Path(r).resolve() for r in settings.data_roots))

    def describe(self) -> str:
        return ", ".join(str(r) for r in self.lexical) or "(none configured)"


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _checked_path(
    name: str, base: Path, roots: _Roots, chk: _Check, where: Located, field: str, *, directory: bool
) -> Path:
    given = Path(name)
    lexical = Path(os.path.normpath(base / given))  # base / absolute == absolute
    if not (_inside(lexical, roots.lexical) or _inside(lexical, roots.resolved)):
        if ".." in given.parts:
            reason = f"path {name!r} escapes the data roots with '..' (to {lexical})"
        else:
            reason = f"path {name!r} ({lexical}) is outside the data roots"
        chk.fail(f"{reason}; data roots: {roots.describe()}", ExitCode.FILE_SYSTEM_ERROR, where=where, field=field)
    try:
        real = lexical.resolve(strict=False)
    except (OSError, RuntimeError) as err:  # symlink loop
        raise chk.error(f"path {name!r} cannot be resolved: {err}", ExitCode.FILE_SYSTEM_ERROR, where=where,
                        field=field) from err
    if not _inside(real, roots.resolved):
        chk.fail(f"path {name!r} resolves through a symbolic link to {real}, outside the data roots; "
                 f"data roots: {roots.describe()}", ExitCode.FILE_SYSTEM_ERROR, where=where, field=field)
    if not real.exists():
        chk.fail(f"input file {name!r} does not exist ({real})", ExitCode.MISSING_INPUT, where=where, field=field)
    if directory and not real.is_dir():
        chk.fail(f"{name!r} is not a directory (File_Name_Type Directory)", ExitCode.MISSING_INPUT, where=where,
                 field=field)
    mode = os.R_OK | (os.X_OK if real.is_dir() else 0)
    if not os.access(real, mode):
        chk.fail(f"input file {name!r} is not readable ({real})", ExitCode.MISSING_INPUT, where=where, field=field)
    return real


def _gipp_version(path: Path) -> int:
    m = _SERIAL.search(path.name)
    return int(m[1]) if m else 0


# ---------------------------------------------------------------- entry points


def validate_job_order(
    order: JobOrder,
    plugins: Plugins,
    settings: Settings,
    *,
    gipp_resolver: GippResolver | None = None,
) -> ValidatedJob:
    """Validate ``order`` layer by layer; InvalidJobOrder with file, line, field and exit code on failure."""
    chk = _Check(order)
    warnings: list[str] = []
    proc = _processor(order, plugins, chk)
    decl = proc.declaration
    task = decl.task_name or decl.name
    if order.task and order.task != task:
        chk.fail(f"Task_Name {order.task!r} is not a task of {decl.key} (expected {task!r})",
                 ExitCode.JOB_ORDER_ERROR, field="Task_Name")
    assigned, gipp_inputs = _assign_inputs(order, decl, chk, warnings)
    _check_outputs(order, decl, chk)
    params = _params(order, proc, chk)
    explicit_gipps, resolved_gipps = _gipp_plan(order, decl, [*order.gipps, *gipp_inputs], gipp_resolver, chk,
                                                warnings)
    if order.cores is not None and order.cores < decl.resources.cores:
        warnings.append(f"Number_of_CPU_Cores {order.cores} is below the {decl.resources.cores} the processor "
                        "declares")

    base = order.source.parent if order.source is not None else Path.cwd()
    roots = _Roots.of(settings)
    inputs: dict[str, tuple[InputProduct, ...]] = {}
    for port in decl.inputs:
        products: list[InputProduct] = []
        for inp in assigned.get(port.name, []):
            for k, name in enumerate(inp.file_names, start=1):
                field = f"{inp.where.xpath}/List_of_File_Names/File_Name[{k}]"
                path = _checked_path(name, base, roots, chk, inp.where, field,
                                     directory=inp.name_type == "Directory")
                products.append(InputProduct(path=path, product_type=inp.file_type))
        if products:
            inputs[port.name] = tuple(products)
    gipps: dict[str, tuple[GippInForce, ...]] = dict(resolved_gipps)
    for gtype, given in explicit_gipps.items():
        gipps[gtype] = tuple(
            GippInForce(gipp_type=gtype, version=_gipp_version(p), path=p)
            for g in given
            for p in [_checked_path(g.path, base, roots, chk, g.where, g.where.xpath or gtype, directory=False)]
        )
    return ValidatedJob(
        order=order,
        processor=proc,
        declaration=decl,
        params=params,
        inputs=inputs,
        output_ports=tuple(p.name for p in decl.outputs),
        gipps=gipps,
        warnings=tuple(warnings),
    )


def plan(validated: ValidatedJob) -> str:
    """What would run, for people (``viq job validate``): processor, inputs, parameters, GIPPs, outputs."""
    order, decl = validated.order, validated.declaration
    res = decl.resources
    lines = [
        f"processor   {decl.name} {decl.version} (task {decl.task_name or decl.name})",
        f"job order   {order.source or '<memory>'} ({order.dialect}), file class {order.file_class}",
    ]
    if order.sensing_start or order.sensing_stop:
        lines.append(f"sensing     {order.sensing_start} → {order.sensing_stop}")
    if order.site:
        lines.append(f"site        {order.site}")
    lines.append(f"resources   {order.cores or res.cores} core(s), {res.memory_mb} MiB, walltime {res.walltime}")
    lines.append("inputs")
    for port in decl.inputs:
        products = validated.inputs.get(port.name, ())
        lines.append(f"  {port.name}: {len(products)} file(s)" + ("" if products else " (none)"))
        lines += [f"    {p.product_type}  {p.path}" for p in products]
    lines.append("parameters")
    given = {p.name for p in order.parameters}
    for name, value in validated.params.model_dump(mode="json").items():
        lines.append(f"  {name} = {json.dumps(value)}" + ("" if name in given else "  (default)"))
    if decl.gipps:
        lines.append("gipps")
        for req in decl.gipps:
            found = validated.gipps.get(req.gipp_type, ())
            lines.append(f"  {req.gipp_type}: " + (", ".join(f"{g.path} (v{g.version})" for g in found) or "none"))
    lines.append("outputs")
    dirs = {o.port: o.directory for o in order.outputs}
    for out in decl.outputs:
        lines.append(f"  {out.name}: {out.product_type} ({out.format}) → {dirs.get(out.name, '.')}")
    if validated.warnings:
        lines.append("warnings")
        lines += [f"  {w}" for w in validated.warnings]
    return "\n".join(lines) + "\n"
