"""Errors of the radiometry processors (all derive from :mod:`viq_interfaces.errors`)."""

from __future__ import annotations

from viq_interfaces.errors import MissingInputError


class BadInputError(MissingInputError):
    """An input exists but cannot be used for this calibration (exit code 134, like a missing input).

    Raised for dark frames that are not dark, saturated flats, too few radiance levels, mixed TDI or bands,
    NaNs and truncated rasters; the message names the input file and what is wrong with it.
    """
