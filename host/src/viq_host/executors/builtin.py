"""Built-in executors, registered through the same hook a third-party back-end would use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ComponentRegistry

if TYPE_CHECKING:
    from viq_host.config import Settings
    from viq_host.executors.base import Executor


def _local(settings: Settings) -> Executor:
    from viq_host.executors.local import LocalExecutor

    return LocalExecutor(settings)


def _drmaa(settings: Settings) -> Executor:
    from viq_host.executors.drmaa import DrmaaExecutor  # imports drmaa (needs the library) only when chosen

    return DrmaaExecutor(settings)


@hookimpl
def viq_add_executors(registry: ComponentRegistry) -> None:
    """Register the local subprocess executor and the Grid Engine (DRMAA) executor."""
    registry.add("local", _local)
    registry.add("drmaa", _drmaa)
