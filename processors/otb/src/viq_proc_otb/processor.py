"""OTB applications as VIQ processors: declaration and parameter model generated from the parsed ``-help``.

For an application ``App`` the processor is ``otb-<app lower-case>``, version ``NN.NN`` from the OTB version
(8.1.1 → ``08.01``). Its ports and parameters come from :func:`viq_proc_otb.helpparse.describe`:

* each **input** key is an input port (dots become ``_``: ``io.in`` → ``io_in``), mandatory when OTB says so,
  a list port for ``string list`` keys; images accept ``OTB_IMAGE_`` and the VIQ image types, other files
  ``OTB_FILE__`` (vector data ``OTB_VECTOR``, DEM directories ``OTB_DEMDIR``/``AUX_DEMTIL``);
* each **output** key is an output port written as ``<port>.tif`` (images, with a ``<port>_pixel`` parameter
  for the pixel type), ``.gpkg`` (vector), ``.xml`` or ``.txt``; a mandatory output is always written, an
  optional one when ``write_<port>`` is true (default true only when the application has no mandatory output);
* every other key is a parameter (dots become ``_``; a key starting with a digit gets an ``n`` prefix):
  ``int32`` → int, ``float`` → float, ``boolean`` → bool, choices ``[a/b]`` → one of them, ``string list`` →
  list of strings. A parameter OTB defaults has that default; one it does not default is ``None`` and is
  passed only when set. Only values that differ from OTB's own default are passed.

``run`` calls ``otbcli_<App> -progress true …`` in the work directory, relays OTB's log lines (``(INFO)``,
``(WARNING)``, ``(FATAL)``, progress bars) to the run's logger, turns ``Output parameters value`` lines
into measurements (e.g. ``out.mean: [31.5]`` → ``out_mean`` band ``b1``), counts tie points, and maps failures:
a missing mandatory input 134, an application OTB does not have 160, OTB refusing a parameter 147, any other
failure 148.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, create_model

from viq_interfaces import (
    InputPort,
    Measurement,
    MissingInputError,
    OutputPort,
    OutputProduct,
    ParameterError,
    ProcessingError,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    Resources,
    RetryPolicy,
    RunContext,
)
from viq_interfaces.context import ProcessorLogger
from viq_interfaces.errors import Cancelled
from viq_proc_otb.helpparse import OtbApp, OtbParam, describe, launcher

__all__ = ["DEFAULT_APPLICATIONS", "OtbProcessor", "otb_processor", "processor_class", "processor_name"]

DEFAULT_APPLICATIONS = (
    "HomologousPointsExtraction",
    "FineRegistration",
    "Superimpose",
    "OrthoRectification",
    "Mosaic",
    "BandMath",
    "ComputeImagesStatistics",
    "StereoFramework",
)
IMAGE_TYPES = ("OTB_IMAGE_", "VSC_L1VALD", "VSC_L2VALD", "VSC_RAWDAT", "AUX_REFIMG", "EXT_GEOIMG", "AUX_IMAGE_")
_LEVEL = re.compile(r"\((?P<level>INFO|DEBUG|WARNING|FATAL|CRITICAL|ERROR)\)\s*(?:\w+)?:\s?(?P<msg>.*)$")
_PROGRESS = re.compile(r"^(?P<what>.*?):\s+(?P<pct>\d{1,3})%\s+\[")
_OUTPUT_VALUE = re.compile(r"^(?P<key>[A-Za-z0-9_.]+):\s+\[(?P<values>[^\]]*)\]\s*$")
_SCALARS: dict[str, Any] = {"int32": int, "int": int, "float": float, "double": float, "boolean": bool}


def processor_name(app: str) -> str:
    """``otb-<app lower-case>``."""
    return f"otb-{app.lower()}"


def _version_code(version: str) -> str:
    parts = [int(p) for p in version.split(".")[:2]] + [0, 0]
    return f"{parts[0]:02d}.{parts[1]:02d}"


def _ident(key: str) -> str:
    name = re.sub(r"\W", "_", key)
    return f"n{name}" if name[0].isdigit() else name


def _port_kind(param: OtbParam) -> tuple[tuple[str, ...], str, str]:
    """(accepted or written product types, format, extension) of a file parameter."""
    label = param.label.lower()
    if param.pixel_types or "image" in label or "mask" in label:
        return IMAGE_TYPES, "GTiff", ".tif"
    if "vector" in label:
        return ("OTB_VECTOR",), "GPKG", ".gpkg"
    if "dem" in label:
        return ("OTB_DEMDIR", "AUX_DEMTIL"), "DIR", ""
    if "xml" in label or param.key.endswith("xml"):
        return ("OTB_XML___",), "XML", ".xml"
    return ("OTB_FILE__",), "TXT", ".txt"


def _typed(param: OtbParam, text: str | None) -> Any:
    if text is None:
        return None
    kind = _SCALARS.get(param.type)
    if kind is bool:
        return text.strip().lower() in ("true", "1", "on", "yes")
    if kind is not None:
        try:
            return kind(text)
        except ValueError:
            return None
    return text


def _parameter_field(param: OtbParam) -> tuple[Any, Any]:
    default = _typed(param, param.default)
    description = f"OTB -{param.key}: {param.label}" + ("" if param.mandatory else " (optional)")
    annotation: Any
    if param.choices:
        annotation = Literal[param.choices]
        if default not in param.choices:
            default = None
    elif param.type == "string list":
        annotation = list[str]
    else:
        annotation = _SCALARS.get(param.type, str)
    if default is None:
        annotation = annotation | None
    return annotation, Field(default=default, description=description)


class OtbProcessor(Processor):
    """Base of the generated OTB processor classes; see the module docstring."""

    otb_app: ClassVar[OtbApp]
    input_keys: ClassVar[dict[str, OtbParam]]
    output_keys: ClassVar[dict[str, OtbParam]]
    param_keys: ClassVar[dict[str, OtbParam]]

    def _arguments(self, ctx: RunContext[BaseModel]) -> tuple[list[str], list[tuple[str, Path]]]:
        values = ctx.params.model_dump()
        args: list[str] = []
        for port, param in self.input_keys.items():
            products = ctx.all(port)
            if not products:
                if param.mandatory:
                    raise MissingInputError(f"input port {port!r} (OTB -{param.key}, {param.label}) has no file")
                continue
            args += [f"-{param.key}", *(str(p.path) for p in products)]
        outputs: list[tuple[str, Path]] = []
        for port, param in self.output_keys.items():
            if not param.mandatory and not values.get(f"write_{port}", False):
                continue
            _, _, ext = _port_kind(param)
            path = ctx.output_dir / f"{port}{ext}"
            args += [f"-{param.key}", str(path)]
            if param.pixel_types:
                args.append(str(values.get(f"{port}_pixel") or param.pixel_default or "float"))
            outputs.append((port, path))
        for name, param in self.param_keys.items():
            value = values.get(name)
            if value is None or value == _typed(param, param.default):
                continue
            if isinstance(value, bool):
                args += [f"-{param.key}", "true" if value else "false"]
            elif isinstance(value, list):
                args += [f"-{param.key}", *(str(v) for v in value)]
            else:
                args += [f"-{param.key}", str(value)]
        for key in (p.key for p in self.otb_app.params if p.role == "host"):
            args += [f"-{key}", str(ctx.work_dir)]
        return args, outputs

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Run the OTB application on the inputs and parameters of ``ctx``; see the module docstring."""
        app = self.otb_app
        exe = launcher(app.name)
        args, outputs = self._arguments(ctx)
        ctx.logger.info(f"otbcli_{app.name} {' '.join(args)}")
        relay = _Relay(ctx.logger)
        proc = subprocess.Popen(
            [str(exe), "-progress", "true", *args], cwd=ctx.work_dir, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        assert proc.stdout is not None
        reader = threading.Thread(target=relay.pump, args=(proc.stdout,), daemon=True)
        reader.start()
        cancelled = False
        while True:
            try:
                code = proc.wait(timeout=0.1)
                break
            except subprocess.TimeoutExpired:
                if not cancelled and ctx.is_cancelled():
                    cancelled = True
                    proc.terminate()
                    deadline = time.monotonic() + 5
                    while proc.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.05)
                    if proc.poll() is None:
                        proc.kill()
        reader.join(timeout=10)
        proc.stdout.close()
        if cancelled or ctx.is_cancelled():
            raise Cancelled(f"otbcli_{app.name} stopped: the run was cancelled")
        if code != 0:
            detail = relay.errors[-1] if relay.errors else f"exit code {code}"
            text = " ".join(relay.errors).lower()
            if "mandatory parameter" in text or "invalid value" in text or "not a valid" in text:
                raise ParameterError(f"otbcli_{app.name} refused its parameters: {detail}")
            raise ProcessingError(f"otbcli_{app.name} failed (exit code {code}): {detail}")
        products: list[OutputProduct] = []
        measurements = list(relay.measurements)
        for port, path in outputs:
            if not path.exists():
                raise ProcessingError(f"otbcli_{app.name} ended without writing {path.name} (port {port!r})")
            param = self.output_keys[port]
            types, fmt, _ = _port_kind(param)
            products.append(OutputProduct(port=port, path=path.relative_to(ctx.output_dir), product_type=types[0],
                                          metadata={"otb_application": app.name, "otb_key": param.key, "format": fmt}))
            if "tie points" in param.label.lower() and path.suffix == ".txt":
                count = sum(1 for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))
                measurements.append(Measurement(name="tie_points", value=float(count)))
        return ProcessorResult(
            outputs=tuple(products),
            measurements=tuple(measurements),
            summary=f"otbcli_{app.name} (OTB {app.version}): {len(products)} output(s)",
        )


class _Relay:
    """OTB's output lines → the run's logger; ``Output parameters value`` lines → measurements."""

    def __init__(self, logger: ProcessorLogger) -> None:
        self.logger = logger
        self.errors: list[str] = []
        self.measurements: list[Measurement] = []

    def line(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        progress = _PROGRESS.match(text)
        if progress is not None:
            self.logger.progress(float(progress["pct"]), progress["what"])
            return
        value = _OUTPUT_VALUE.match(text)
        if value is not None:
            for k, item in enumerate(v.strip() for v in value["values"].split(",")):
                try:
                    number = float(item)
                except ValueError:
                    continue
                name = value["key"].replace(".", "_")
                self.measurements.append(Measurement(name=name, value=number, band=f"b{k + 1}"))
        m = _LEVEL.search(text)
        if m is None:
            self.logger.info(text)
        elif m["level"] in ("FATAL", "CRITICAL", "ERROR"):
            self.errors.append(m["msg"])
            self.logger.error(m["msg"])
        elif m["level"] == "WARNING":
            self.logger.warning(m["msg"])
        elif m["level"] == "DEBUG":
            self.logger.debug(m["msg"])
        else:
            self.logger.info(m["msg"])

    def pump(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            for part in raw.decode("utf-8", errors="replace").split("\r"):
                self.line(part)


def _sample_attributes(app: str) -> dict[str, Any]:
    from viq_proc_otb import samples

    if app not in samples.SAMPLE_PARAMS:
        return {}
    params = dict(samples.SAMPLE_PARAMS[app])

    def sample_inputs(cls: type[OtbProcessor], tmp_dir: Path) -> dict[str, list[Path]]:
        return samples.sample_image(tmp_dir)

    def sample_params(cls: type[OtbProcessor]) -> dict[str, Any]:
        return dict(params)

    return {"sample_inputs": classmethod(sample_inputs), "sample_params": classmethod(sample_params)}


def processor_class(app: OtbApp) -> type[OtbProcessor]:
    """The processor class of one parsed OTB application."""
    inputs: dict[str, OtbParam] = {}
    outputs: dict[str, OtbParam] = {}
    params: dict[str, OtbParam] = {}
    fields: dict[str, Any] = {}
    for param in app.params:
        if param.role == "input":
            inputs[_ident(param.key)] = param
        elif param.role == "output":
            outputs[_ident(param.key)] = param
        elif param.role == "parameter":
            name = _ident(param.key)
            params[name] = param
            fields[name] = _parameter_field(param)
    has_mandatory_output = any(p.mandatory for p in outputs.values())
    for port, param in outputs.items():
        if param.pixel_types:
            fields[f"{port}_pixel"] = (
                Literal[param.pixel_types],
                Field(default=param.pixel_default or "float", description=f"Pixel type of output {port}."),
            )
        if not param.mandatory:
            fields[f"write_{port}"] = (
                bool,
                Field(
                    default=not has_mandatory_output, description=f"Write the optional output {port} ({param.label})."
                ),
            )
    model = create_model(
        f"Otb{app.name}Parameters", __config__=ConfigDict(extra="forbid", frozen=True), **fields
    )
    model.__doc__ = f"Parameters of OTB {app.name} {app.version}, generated from its -help."
    declaration = ProcessorDeclaration(
        name=processor_name(app.name),
        version=_version_code(app.version),
        description=f"Orfeo Toolbox {app.name} ({app.version}): {app.summary}",
        task_name=app.name,
        inputs=tuple(
            InputPort(
                name=port,
                product_types=_port_kind(p)[0],
                mandatory=p.mandatory,
                min_count=1 if p.mandatory else 0,
                max_count=None if p.type == "string list" else 1,
                description=f"OTB -{p.key}: {p.label}",
            )
            for port, p in inputs.items()
        ),
        outputs=tuple(
            OutputPort(
                name=port,
                product_type=_port_kind(p)[0][0],
                format=_port_kind(p)[1],
                min_count=1 if p.mandatory else 0,
                max_count=1,
                file_name_pattern=f"{port}{_port_kind(p)[2]}",
                description=f"OTB -{p.key}: {p.label}",
            )
            for port, p in outputs.items()
        ),
        resources=Resources(cores=2, memory_mb=2048),
        retry=RetryPolicy(max_attempts=1),
    )
    namespace: dict[str, Any] = {
        "declaration": declaration,
        "Parameters": model,
        "otb_app": app,
        "input_keys": inputs,
        "output_keys": outputs,
        "param_keys": params,
        "__module__": __name__,
        **_sample_attributes(app.name),
        "__doc__": f"OTB application {app.name} as a VIQ processor (generated from otbcli_{app.name} -help).",
    }
    return cast(type[OtbProcessor], type(f"Otb{app.name}", (OtbProcessor,), namespace))


_CLASSES: dict[str, type[OtbProcessor]] = {}


def otb_processor(app: str) -> type[OtbProcessor]:
    """The processor class of the installed application ``app`` (OtbApplicationMissing when OTB lacks it)."""
    if app not in _CLASSES:
        _CLASSES[app] = processor_class(describe(app))
    return _CLASSES[app]
