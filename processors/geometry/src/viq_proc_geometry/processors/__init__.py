"""The processor classes (host glue); numerics live in the modules one level up."""

from viq_proc_geometry.processors.band_to_band import BandToBand
from viq_proc_geometry.processors.multi_date import MultiDateRegistration
from viq_proc_geometry.processors.registration import ImageRegistration
from viq_proc_geometry.processors.rpc_bias import RpcBiasProcessor
from viq_proc_geometry.processors.viewing_bias import ViewingBias

__all__ = ["BandToBand", "ImageRegistration", "MultiDateRegistration", "RpcBiasProcessor", "ViewingBias"]
