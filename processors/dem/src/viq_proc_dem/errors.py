"""Errors of the DEM processors; each derives from the contract's typed errors (exit codes follow)."""

from __future__ import annotations

from viq_interfaces.errors import MissingInputError, ParameterError, ProcessingError


class DemInputError(MissingInputError):
    """An input DEM is unusable: unreadable or corrupt, CRS mismatch, undeclared mixed vertical datums."""


class CoverageError(DemInputError):
    """The input tiles do not cover the requested area; the message names the missing area."""


class AllVoidError(DemInputError):
    """The input holds no valid height over the requested area (or too few to fill the voids)."""


class SiteError(ParameterError):
    """The site or its output grid is not usable: unknown name, bad footprint, unknown CRS."""


class CoregistrationError(ProcessingError):
    """Nuth & Kääb coregistration could not be computed (no overlap, flat terrain, too few points)."""
