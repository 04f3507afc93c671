"""Parse the parameter list ``otbcli_<App> -help`` prints, and cache the result per installed launcher.

Each line of the ``Parameters:`` block reads ``[MISSING] -<key> <<type>> [[pixel]] <label> [choices] (status)``
where the status is ``mandatory`` or ``optional, off|on by default`` and may carry ``default value is X``.
The help text does not say which strings are files; :func:`classify` decides from the label and the key
(documented rules, tested on the applications the adapter exposes by default):

* an **output** is a string parameter with a pixel type or a label starting with "Output";
* an **input** is a string (list) parameter whose label names an image, input, mask, file, directory, vector
  data or DEM;
* ``tmpdir`` is set by the adapter (the work directory); ``help``/``progress``/``inxml``/``outxml`` are never
  exposed; groups only structure keys; everything else is a **parameter**.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from viq_interfaces.errors import ConfigurationError

__all__ = ["OtbApp", "OtbParam", "cache_dir", "describe", "installed_applications", "parse_help"]

Role = Literal["input", "output", "parameter", "group", "host", "hidden"]

_LINE = re.compile(
    r"^(?:MISSING)?\s+-(?P<key>[A-Za-z0-9_.]+)\s+<(?P<type>[^>]+)>\s*(?P<pixel>\[pixel\])?\s*(?P<rest>.*)$"
)
_STATUS = re.compile(r"\(((?:mandatory|optional)[^()]*)\)\s*$")
_DEFAULT = re.compile(r"default value is ([^,()]+?)\s*(?:,|\)|$)")
_CHOICES = re.compile(r"\[(?!pixel=)([A-Za-z0-9_]+(?:/[A-Za-z0-9_]+)+)\]")
_PIXEL = re.compile(r"\[pixel=([^\]]+)\]\s*\(default value is ([^)]+)\)")
_VERSION = re.compile(r"This is the (?P<app>\S+) application, version (?P<version>[\d.]+)")
_INPUT_WORDS = re.compile(r"\b(image|images|input|mask|file|directory|vectordata|vector data|dem)\b", re.IGNORECASE)
_HIDDEN = {"help", "progress", "inxml", "outxml"}
_HOST = {"tmpdir"}


class OtbApplicationMissing(ConfigurationError):
    """Raised when an OTB application is not in the installed Orfeo Toolbox (or OTB is not installed)."""


@dataclass(frozen=True)
class OtbParam:
    """One parameter of an OTB application, as its ``-help`` lists it."""

    key: str
    type: str
    label: str
    mandatory: bool
    default: str | None
    choices: tuple[str, ...]
    pixel_types: tuple[str, ...]
    pixel_default: str | None
    role: Role


@dataclass(frozen=True)
class OtbApp:
    """An OTB application: name, OTB version, one-line summary and parameters."""

    name: str
    version: str
    summary: str
    params: tuple[OtbParam, ...]

    def param(self, key: str) -> OtbParam:
        """The parameter ``key`` (KeyError if none)."""
        for p in self.params:
            if p.key == key:
                return p
        raise KeyError(key)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (the cache format)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OtbApp:
        """Inverse of :meth:`to_json`."""
        params = tuple(
            OtbParam(**{**p, "choices": tuple(p["choices"]), "pixel_types": tuple(p["pixel_types"])})
            for p in data["params"]
        )
        return cls(name=data["name"], version=data["version"], summary=data["summary"], params=params)


def classify(key: str, type_: str, label: str, has_pixel: bool) -> Role:
    """The role of one parameter (see the module docstring for the rules)."""
    last = key.rsplit(".", 1)[-1]
    if last in _HIDDEN:
        return "hidden"
    if last in _HOST:
        return "host"
    if type_ == "group":
        return "group"
    if type_ not in ("string", "string list"):
        return "parameter"
    if has_pixel or label.lower().startswith("output"):
        return "output"
    if _INPUT_WORDS.search(label):
        return "input"
    return "parameter"


def parse_help(text: str) -> OtbApp:
    """The application described by the ``-help`` output ``text``; ValueError when it is not one."""
    head = _VERSION.search(text)
    if head is None:
        raise ValueError("not the -help output of an OTB application (no 'This is the … application' line)")
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Parameters:"), None)
    if start is None:
        raise ValueError(f"{head['app']}: no 'Parameters:' block in the help")
    summary = ""
    for line in lines[lines.index(next(x for x in lines if _VERSION.search(x))) + 1 :]:
        if line.strip():
            summary = line.strip()
            break
    params: list[OtbParam] = []
    for line in lines[start + 1 :]:
        if line.startswith("Use -help") or line.startswith("Examples"):
            break
        m = _LINE.match(line)
        if m is None:
            continue
        key, type_, rest = m["key"], m["type"].strip(), m["rest"].strip()
        status_m = _STATUS.search(rest)
        status = status_m.group(1) if status_m else ""
        pixel_m = _PIXEL.search(rest)
        choices_m = _CHOICES.search(rest)
        default_m = _DEFAULT.search(status)
        label = re.split(r"\s{2,}|\s\[|\s\(", rest, maxsplit=1)[0].strip()
        params.append(
            OtbParam(
                key=key,
                type=type_,
                label=label,
                mandatory=status.startswith("mandatory"),
                default=default_m.group(1).strip() if default_m else None,
                choices=tuple(choices_m.group(1).split("/")) if choices_m else (),
                pixel_types=tuple(pixel_m.group(1).split("/")) if pixel_m else (),
                pixel_default=pixel_m.group(2).strip() if pixel_m else None,
                role=classify(key, type_, label, bool(m["pixel"])),
            )
        )
    return OtbApp(name=head["app"], version=head["version"], summary=summary, params=tuple(params))


def cache_dir() -> Path:
    """``$VIQ_OTB_CACHE``, else ``$XDG_CACHE_HOME/viq/otb``, else ``~/.cache/viq/otb``."""
    env = os.environ.get("VIQ_OTB_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "viq" / "otb"


def installed_applications() -> list[str]:
    """Names of the ``otbcli_*`` launchers on PATH (empty when OTB is not installed)."""
    names: set[str] = set()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        try:
            entries = os.listdir(directory or ".")
        except OSError:
            continue
        names.update(e[len("otbcli_") :] for e in entries if e.startswith("otbcli_") and len(e) > len("otbcli_"))
    return sorted(names)


def launcher(app: str) -> Path:
    """The ``otbcli_<app>`` launcher; OtbApplicationMissing with what is installed when absent."""
    if not re.fullmatch(r"[A-Za-z0-9]+", app):
        raise OtbApplicationMissing(f"{app!r} is not an OTB application name")
    found = shutil.which(f"otbcli_{app}")
    if found is None:
        installed = installed_applications()
        if not installed:
            raise OtbApplicationMissing(
                f"OTB application {app!r}: Orfeo Toolbox is not installed (scripts/services/otb.sh install)"
            )
        raise OtbApplicationMissing(
            f"OTB application {app!r} is not in the installed Orfeo Toolbox ({len(installed)} applications; "
            f"e.g. {', '.join(installed[:6])}…)"
        )
    return Path(found)


def describe(app: str, *, use_cache: bool = True) -> OtbApp:
    """The parsed description of ``app``: from the cache when the launcher did not change, else from ``-help``."""
    exe = launcher(app)
    stat = exe.stat()
    stamp = f"{exe.resolve()}:{stat.st_mtime_ns}:{stat.st_size}"
    cache = cache_dir() / f"{app}.json"
    if use_cache and cache.is_file():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("stamp") == stamp:
                return OtbApp.from_json(data["app"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a corrupt cache entry is rebuilt
    try:
        proc = subprocess.run([str(exe), "-help"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise OtbApplicationMissing(f"OTB application {app!r}: cannot run {exe} -help: {err}") from err
    try:
        parsed = parse_help(proc.stdout + proc.stderr)
    except ValueError as err:
        raise OtbApplicationMissing(f"OTB application {app!r}: {err}") from err
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=f".{app}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"stamp": stamp, "app": parsed.to_json()}, fh, indent=1)
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only cache directory only costs a -help per process
    return parsed
