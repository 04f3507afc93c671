"""Processor glue: one module per processor; :data:`PROCESSORS` lists the classes to register."""

from __future__ import annotations

from viq_interfaces.processor import Processor

PROCESSORS: tuple[type[Processor], ...] = ()
