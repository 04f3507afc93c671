"""The plugin registry: lazy factory, tolerant of broken plugins, refuses duplicates."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import BaseModel

from viq_host.plugins import PluginWarning, load_plugins
from viq_interfaces import (
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    RegistryError,
    RunContext,
    hookimpl,
)
from viq_interfaces.hookspecs import ProcessorRegistry


def _proc(name: str, version: str) -> type[Processor]:
    class _P(Processor):
        declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
            name=name, version=version, description=f"{name} test processor"
        )

        def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
            return ProcessorResult()

    return _P


class _Plugin:
    def __init__(self, *procs: type[Processor]) -> None:
        self.procs = procs

    @hookimpl
    def viq_add_processors(self, registry: ProcessorRegistry) -> None:
        for p in self.procs:
            registry.add(p)


def test_processors_are_found_by_name_and_latest_version() -> None:
    """Two versions of one processor are both listed; get() without version picks the highest."""
    plugins = load_plugins([_Plugin(_proc("alpha", "01.00"), _proc("alpha", "01.10"))], entry_points_enabled=False)
    rows = [(e.name, e.version, e.status) for e in plugins.processors]
    assert rows == [("alpha", "01.00", "enabled"), ("alpha", "01.10", "enabled")]
    assert plugins.processors.get("alpha").declaration.version == "01.10"
    assert plugins.processors.get("alpha", "01.00").declaration.version == "01.00"
    with pytest.raises(RegistryError, match="no enabled version 02.00"):
        plugins.processors.get("alpha", "02.00")
    with pytest.raises(RegistryError, match="unknown processor 'beta'"):
        plugins.processors.get("beta")


def test_duplicate_name_and_version_is_disabled_with_a_warning() -> None:
    """A second plugin registering the same name@version becomes a disabled row; the first stays usable."""
    with pytest.warns(PluginWarning, match="duplicate of alpha@01.00"):
        plugins = load_plugins(
            [_Plugin(_proc("alpha", "01.00")), _Plugin(_proc("alpha", "01.00"))], entry_points_enabled=False
        )
    statuses = sorted(e.status for e in plugins.processors)
    assert statuses == ["disabled", "enabled"]
    assert plugins.processors.get("alpha", "01.00") is not None


def test_processor_without_declaration_is_disabled_not_fatal() -> None:
    """A class lacking a declaration is listed as disabled with the reason; the host keeps going."""

    class Broken(Processor):
        def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
            return ProcessorResult()

    with pytest.warns(PluginWarning, match="invalid declaration"):
        plugins = load_plugins([_Plugin(Broken, _proc("good", "01.00"))], entry_points_enabled=False)
    by_status = {e.status: e for e in plugins.processors}
    assert "declaration" in by_status["disabled"].reason
    assert by_status["enabled"].name == "good"


def test_crashing_hook_disables_its_plugin_only() -> None:
    """A plugin whose viq_add_processors raises is disabled; others load."""

    class Crashing:
        @hookimpl
        def viq_add_processors(self, registry: ProcessorRegistry) -> None:
            raise RuntimeError("boom")

    with pytest.warns(PluginWarning, match="boom"):
        plugins = load_plugins([Crashing(), _Plugin(_proc("good", "01.00"))], entry_points_enabled=False)
    assert plugins.processors.get("good").declaration.name == "good"


def test_builtin_local_executor_is_registered_through_the_hook() -> None:
    """The local executor comes from the viq.plugins entry point, like any third-party back-end."""
    plugins = load_plugins()
    assert "local" in plugins.executors.names()
