"""The host plugin registering task-table processors (entry point ``viq.plugins``: ``external-task-tables``).

Task tables come from two places:

* every ``*.xml`` file in the directories of the ``task_table_dirs`` setting (``$VIQ_HOME/viq.toml`` or
  ``VIQ_TASK_TABLE_DIRS``, a JSON list);
* packages: a module named by a ``viq.processors`` entry point may define ``VIQ_TASK_TABLES``, a sequence of
  paths (relative to the module's directory) or a callable returning one. Such a package ships its task
  tables and executables without importing the host.

A task table that cannot be read becomes a *disabled* row (``viq processors list``) whose reason names the file
and line, never a crash of the host.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from viq_host.config import load_settings
from viq_host.external.adapter import processor_class
from viq_host.external.tasktable import TaskTableError, read_task_table
from viq_host.plugins import PROCESSOR_GROUP, PluginWarning
from viq_host.plugins import ProcessorRegistry as HostRegistry
from viq_interfaces import hookimpl
from viq_interfaces.errors import ConfigurationError
from viq_interfaces.hookspecs import ProcessorRegistry

__all__ = ["PACKAGE_ATTRIBUTE", "TaskTablePlugin", "configured_dirs", "package_task_tables", "viq_add_processors"]

PACKAGE_ATTRIBUTE = "VIQ_TASK_TABLES"


def configured_dirs() -> list[Path]:
    """``task_table_dirs`` of the usual settings sources (empty when the settings cannot be read)."""
    try:
        return list(load_settings().task_table_dirs)
    except ConfigurationError:
        return []  # the host reports a broken configuration where it loads its settings


def package_task_tables() -> list[Path]:
    """Task tables named by ``VIQ_TASK_TABLES`` in the (already imported) modules of ``viq.processors`` entry points."""
    found: list[Path] = []
    for ep in entry_points(group=PROCESSOR_GROUP):
        module = sys.modules.get(ep.module)
        value: Any = getattr(module, PACKAGE_ATTRIBUTE, None) if module is not None else None
        if value is None:
            continue
        if callable(value):
            value = value()
        base = Path(getattr(module, "__file__", "") or ".").parent
        for item in value:
            path = Path(item)
            found.append(path if path.is_absolute() else base / path)
    return found


def _files(dirs: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for directory in dirs:
        if directory.is_dir():
            files += sorted(p for p in directory.glob("*.xml") if p.is_file())
    return files


class TaskTablePlugin:
    """Registers the task tables of ``dirs`` and ``files`` (default: the configured ones and the packages')."""

    def __init__(self, dirs: Sequence[Path] | None = None, files: Sequence[Path] = ()) -> None:
        self.dirs = None if dirs is None else list(dirs)
        self.files = list(files)
        self.__name__ = "viq_host.external.plugin.TaskTablePlugin"

    def paths(self) -> list[Path]:
        """Every task table file to register."""
        if self.dirs is None:
            return [*_files(configured_dirs()), *package_task_tables(), *self.files]
        return [*_files(self.dirs), *self.files]

    @hookimpl
    def viq_add_processors(self, registry: ProcessorRegistry) -> None:
        """Register one adapter class per readable task table; disable the others with their reason."""
        for path in self.paths():
            try:
                table = read_task_table(path)
            except (TaskTableError, OSError) as err:
                reason = f"task table rejected: {err}"
                if isinstance(registry, HostRegistry):
                    registry.disable(path.name, reason)
                else:
                    warnings.warn(f"task table {path} disabled: {reason}", PluginWarning, stacklevel=2)
                continue
            registry.add(processor_class(table))


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Register the configured and package-shipped task tables (see the module docstring)."""
    TaskTablePlugin().viq_add_processors(registry)
