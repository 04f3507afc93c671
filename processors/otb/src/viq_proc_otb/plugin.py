"""Entry point ``viq.processors``: ``otb``. Registers the OTB applications the calibration engineers use.

The default set is :data:`~viq_proc_otb.processor.DEFAULT_APPLICATIONS`; ``VIQ_OTB_APPLICATIONS`` (comma
separated) adds more. Nothing is registered when OTB is not installed; an application the installed OTB does not
have is skipped with an :class:`OtbWarning` naming it.
"""

from __future__ import annotations

import os
import warnings

from viq_interfaces import hookimpl
from viq_interfaces.hookspecs import ProcessorRegistry
from viq_proc_otb.helpparse import OtbApplicationMissing, installed_applications
from viq_proc_otb.processor import DEFAULT_APPLICATIONS, otb_processor

EXTRA_APPLICATIONS_ENV = "VIQ_OTB_APPLICATIONS"


class OtbWarning(UserWarning):
    """Issued when a requested OTB application is not in the installed Orfeo Toolbox."""


def requested_applications() -> list[str]:
    """The default applications and those named by ``VIQ_OTB_APPLICATIONS``, without duplicates."""
    extra = [a.strip() for a in os.environ.get(EXTRA_APPLICATIONS_ENV, "").split(",") if a.strip()]
    return list(dict.fromkeys([*DEFAULT_APPLICATIONS, *extra]))


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """Register one processor per requested application the installed OTB has."""
    if not installed_applications():
        return
    for app in requested_applications():
        try:
            cls = otb_processor(app)
        except OtbApplicationMissing as err:
            warnings.warn(str(err), OtbWarning, stacklevel=2)
            continue
        registry.add(cls)
