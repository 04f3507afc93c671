"""Plugin manager factory and the typed registries plugins add to.

Processors come from the entry-point group ``viq.processors``, host extensions (executors, catalog
backends, product readers, GIPP types — built-ins included) from ``viq.plugins``. Loading is lazy (first
use), validated early (``check_pending``) and tolerant: a plugin that fails to import or declares an
invalid processor becomes a warning and a *disabled* row, never a crash of the host.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from pydantic import BaseModel, ValidationError

from viq_interfaces import hookspecs
from viq_interfaces.declaration import ProcessorDeclaration
from viq_interfaces.errors import RegistryError
from viq_interfaces.processor import Processor

PROCESSOR_GROUP = "viq.processors"
PLUGIN_GROUP = "viq.plugins"


class PluginWarning(UserWarning):
    """Issued when a plugin is disabled because it failed to load or declared something invalid."""


@dataclass(frozen=True)
class ProcessorEntry:
    """One row of ``viq processors list``."""

    name: str
    version: str
    status: str  # "enabled" | "disabled"
    plugin: str
    description: str = ""
    reason: str = ""
    cls: type[Processor] | None = None

    @property
    def declaration(self) -> ProcessorDeclaration:
        """The declaration of an enabled processor."""
        if self.cls is None:
            raise RegistryError(f"processor {self.name} is disabled: {self.reason}")
        return self.cls.declaration


class ProcessorRegistry:
    """Registry of processor classes, keyed by ``name@version``."""

    def __init__(self) -> None:
        self._entries: dict[str, ProcessorEntry] = {}
        self.current_plugin = "<direct>"

    def add(self, processor: type[Processor]) -> None:
        """Register a processor class; its declaration and parameter model are checked now."""
        plugin = self.current_plugin
        try:
            decl = processor.declaration
            if not isinstance(decl, ProcessorDeclaration):
                raise TypeError("declaration is not a ProcessorDeclaration")
            params = processor.Parameters
            if not (isinstance(params, type) and issubclass(params, BaseModel)):
                raise TypeError("Parameters is not a pydantic model")
            params()  # every parameter needs a default
        except (AttributeError, TypeError, ValidationError) as err:
            name = getattr(processor, "__name__", repr(processor))
            self._disable(f"{plugin}:{name}", name, "?", plugin, f"invalid declaration: {err}")
            return
        key = decl.key
        if key in self._entries and self._entries[key].status == "enabled":
            existing = self._entries[key].plugin
            reason = f"duplicate of {key} already registered by {existing}"
            self._disable(f"{key}#{plugin}", decl.name, decl.version, plugin, reason)
            return
        self._entries[key] = ProcessorEntry(
            name=decl.name,
            version=decl.version,
            status="enabled",
            plugin=plugin,
            description=decl.description,
            cls=processor,
        )

    def disable(self, name: str, reason: str, version: str = "?") -> None:
        """Record a processor the current plugin could not register (a disabled row with its reason)."""
        plugin = self.current_plugin
        self._disable(f"{plugin}:{name}", name, version, plugin, reason)

    def _disable(self, key: str, name: str, version: str, plugin: str, reason: str) -> None:
        warnings.warn(f"processor plugin {plugin!r} disabled: {reason}", PluginWarning, stacklevel=3)
        self._entries[key] = ProcessorEntry(name, version, "disabled", plugin, reason=reason)

    def entries(self) -> list[ProcessorEntry]:
        """All rows, enabled and disabled, sorted by name then version."""
        return sorted(self._entries.values(), key=lambda e: (e.name, e.version))

    def __iter__(self) -> Iterator[ProcessorEntry]:
        return iter(self.entries())

    def get(self, name: str, version: str | None = None) -> type[Processor]:
        """The processor class ``name`` at ``version`` (latest enabled version if None)."""
        candidates = [e for e in self._entries.values() if e.name == name]
        if not candidates:
            raise RegistryError(f"unknown processor {name!r}")
        enabled = [e for e in candidates if e.status == "enabled"]
        if version is not None:
            enabled = [e for e in enabled if e.version == version]
            if not enabled:
                known = ", ".join(sorted(e.version for e in candidates if e.status == "enabled")) or "none"
                raise RegistryError(f"processor {name!r} has no enabled version {version} (known: {known})")
        if not enabled:
            reason = candidates[0].reason
            raise RegistryError(f"processor {name!r} is disabled: {reason}")
        best = max(enabled, key=lambda e: tuple(int(x) for x in e.version.split(".")))
        assert best.cls is not None
        return best.cls


class ComponentRegistry:
    """Named components of one kind (executors, catalog backends, readers, GIPP types)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Any] = {}

    def add(self, name: str, factory: object) -> None:
        """Register ``factory`` under ``name``; duplicates are refused."""
        if name in self._items:
            raise RegistryError(f"{self.kind} {name!r} registered twice")
        self._items[name] = factory

    def get(self, name: str) -> Any:
        """The component called ``name``."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)


@dataclass
class Plugins:
    """The loaded plugin manager and the registries filled from it (built by :func:`load_plugins`)."""

    manager: pluggy.PluginManager
    processors: ProcessorRegistry = field(default_factory=ProcessorRegistry)
    executors: ComponentRegistry = field(default_factory=lambda: ComponentRegistry("executor"))
    catalog_backends: ComponentRegistry = field(default_factory=lambda: ComponentRegistry("catalog backend"))
    product_readers: ComponentRegistry = field(default_factory=lambda: ComponentRegistry("product reader"))
    gipp_types: ComponentRegistry = field(default_factory=lambda: ComponentRegistry("GIPP type"))
    broken: list[tuple[str, str]] = field(default_factory=list)


def make_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with the VIQ hookspecs (never a module global)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("VIQ_TRACE_HOOKS"):
        pm.trace.root.setwriter(print)
        pm.enable_tracing()
    return pm


def _load_entry_points(
    pm: pluggy.PluginManager, group: str, broken: list[tuple[str, str]], select: Callable[[EntryPoint], bool]
) -> None:
    for ep in entry_points(group=group):
        if not select(ep):
            continue
        try:
            plugin = ep.load()
        except Exception as err:  # a broken third-party plugin must not take the host down
            reason = f"import failed: {type(err).__name__}: {err}"
            warnings.warn(f"plugin {ep.name!r} ({ep.value}) disabled: {reason}", PluginWarning, stacklevel=2)
            broken.append((ep.name, reason))
            continue
        if pm.is_registered(plugin) or pm.has_plugin(ep.name):
            continue
        pm.register(plugin, name=ep.name)


def load_plugins(extra: list[object] | None = None, *, entry_points_enabled: bool = True) -> Plugins:
    """Build a plugin manager, load entry points and fill every registry.

    ``extra`` plugins (objects or modules with hookimpls) are registered too — the testing kit uses this
    for processors defined in a test suite.
    """
    pm = make_plugin_manager()
    plugins = Plugins(manager=pm)
    if entry_points_enabled:
        for group in (PLUGIN_GROUP, PROCESSOR_GROUP):
            _load_entry_points(pm, group, plugins.broken, lambda _ep: True)
    for i, obj in enumerate(extra or []):
        if pm.is_registered(obj):  # also installed through an entry point
            continue
        pm.register(obj, name=f"extra-{i}-{getattr(obj, '__name__', type(obj).__name__)}")
    pm.check_pending()
    for name, reason in plugins.broken:
        plugins.processors._disable(f"{name}:import", name, "?", name, reason)
    for plugin_name, plugin in pm.list_name_plugin():
        impl = getattr(plugin, "viq_add_processors", None)
        if impl is None:
            continue
        plugins.processors.current_plugin = plugin_name
        try:
            impl(registry=plugins.processors)
        except RegistryError:
            raise
        except Exception as err:  # a plugin whose hook crashes is disabled, not fatal
            plugins.processors._disable(f"{plugin_name}:hook", plugin_name, "?", plugin_name, f"{err}")
    plugins.processors.current_plugin = "<direct>"
    pm.hook.viq_add_executors(registry=plugins.executors)
    pm.hook.viq_add_catalog_backends(registry=plugins.catalog_backends)
    pm.hook.viq_add_product_readers(registry=plugins.product_readers)
    pm.hook.viq_add_gipp_types(registry=plugins.gipp_types)
    return plugins


EXTRA_PLUGINS_ENV = "VIQ_EXTRA_PLUGINS"
"""Environment variable naming extra plugins as ``module:attr,module2,…`` (used by the testing kit)."""


class _ProcessorPlugin:
    """Adapter registering one processor class named directly in ``VIQ_EXTRA_PLUGINS``."""

    def __init__(self, processor: type[Processor]) -> None:
        self.processor = processor
        self.__name__ = f"{processor.__module__}.{processor.__qualname__}"

    @hookspecs.hookimpl
    def viq_add_processors(self, registry: hookspecs.ProcessorRegistry) -> None:
        registry.add(self.processor)


def extra_plugins_from_env(value: str | None = None) -> list[object]:
    """Plugins named by ``VIQ_EXTRA_PLUGINS`` (or ``value``): each ``module`` or ``module:attr``.

    ``attr`` may be a dotted path inside the module; a :class:`Processor` subclass is wrapped in a plugin
    that registers it. An entry that cannot be imported is a :class:`RegistryError` (it was asked for
    explicitly, so it is not silently skipped).
    """
    import importlib

    spec = os.environ.get(EXTRA_PLUGINS_ENV, "") if value is None else value
    found: list[object] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        module_name, _, attr = item.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in filter(None, attr.split(".")):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as err:
            raise RegistryError(f"{EXTRA_PLUGINS_ENV} entry {item!r} cannot be loaded: {err}") from err
        if isinstance(obj, type) and issubclass(obj, Processor):
            obj = _ProcessorPlugin(obj)
        found.append(obj)
    return found
