"""The processor classes (host glue); numerics live in the modules one level up.

The classes are imported on first access (PEP 562), so that a run of one processor (``from
viq_proc_geometry.processors.registration import ImageRegistration``) does not import the other four and their
libraries.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from viq_proc_geometry.processors.band_to_band import BandToBand
    from viq_proc_geometry.processors.multi_date import MultiDateRegistration
    from viq_proc_geometry.processors.registration import ImageRegistration
    from viq_proc_geometry.processors.rpc_bias import RpcBiasProcessor
    from viq_proc_geometry.processors.viewing_bias import ViewingBias

_WHERE = {
    "BandToBand": "band_to_band",
    "ImageRegistration": "registration",
    "MultiDateRegistration": "multi_date",
    "RpcBiasProcessor": "rpc_bias",
    "ViewingBias": "viewing_bias",
}

__all__ = ["BandToBand", "ImageRegistration", "MultiDateRegistration", "RpcBiasProcessor", "ViewingBias"]


def __getattr__(name: str) -> object:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
