"""Parameters of the ``venus-simulator`` processor (also the keyword arguments of :func:`simulate`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from viq_venus.bands import BAND_NAMES

AcquisitionType = Literal["dark", "flat", "side_slither", "desert", "edge", "scene", "terrain", "campaign"]
ProductKind = Literal["raw", "l1", "reference"]


class SimulatorParameters(BaseModel):
    """What to simulate. Every field has a default; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acquisition: AcquisitionType = Field(
        default="flat",
        description="dark | flat (one product per level) | side_slither | desert (known TOA radiance) | edge "
        "(slanted edge) | scene (textured: GeoTIFF or fractal) | terrain (scene + DEM parallax) | campaign.",
    )
    bands: tuple[str, ...] = Field(default=BAND_NAMES, description="Bands to simulate (B1…B12).")
    tdi: int = Field(default=8, description="TDI setting of every band (1, 4, 8, 16 or 32).")
    tdi_per_band: dict[str, int] = Field(
        default_factory=dict,
        description="TDI of individual bands, e.g. {\"B5\": 16}; bands not listed use 'tdi'.",
    )
    lines: int = Field(default=256, ge=1, le=100000, description="Lines (along track).")
    pixels: int = Field(default=256, ge=1, le=20000, description="Detectors used, the first of each array.")
    seed: int = Field(default=0, ge=0, description="Acquisition seed (noise, scene, jitter phases).")
    levels: tuple[float, ...] = Field(
        default=(30.0, 80.0, 130.0), description="Flat-field TOA radiances, W m-2 sr-1 µm-1 (one product each)."
    )
    site: str = Field(default="SUDOUE-1", description="VENµS site name (footprint and product names).")
    sensing_time: datetime = Field(default=datetime(2018, 6, 1, 10, 30, 0), description="Sensing start (UTC).")
    altitude_km: float | None = Field(default=None, gt=100.0, description="Orbit altitude; None = configuration.")
    instrument_config: str = Field(default="", description="Instrument TOML file; empty = built-in defaults.")
    scene_path: str = Field(default="", description="GeoTIFF for 'scene'/'terrain'; empty = synthetic fractal.")
    scene_mode: Literal["pixel", "native"] = Field(
        default="pixel",
        description="'pixel': one source pixel per VENµS pixel (texture kept); 'native': resample by georeferencing.",
    )
    dem_path: str = Field(default="", description="DEM GeoTIFF for 'terrain' (metres); empty = synthetic fractal.")
    relief_m: float = Field(default=800.0, ge=0.0, description="Relief of the synthetic DEM, m.")
    dem_secondary_shift: tuple[float, float, float] | None = Field(
        default=None,
        description="'terrain': also write a second DEM of the same ground, shifted by (dx, dy) DEM pixels and "
        "offset by dz m: secondary(col, row) = dem(col + dx, row + dy) - dz, the (dx_px, dy_px, dz_m) that "
        "dem-compare must recover; None = no second DEM.",
    )
    edge_angle_deg: float = Field(default=5.0, gt=0.5, lt=45.0, description="Slanted-edge tilt, degrees.")
    edge_direction: Literal["across", "along"] = Field(default="across", description="MTF direction the edge measures.")
    edge_low: float = Field(default=20.0, ge=0.0, description="Dark side radiance of the edge.")
    edge_high: float = Field(default=110.0, ge=0.0, description="Bright side radiance of the edge.")
    slither_min: float = Field(default=10.0, ge=0.0, description="Lowest radiance of the side-slither profile.")
    slither_max: float = Field(default=150.0, ge=0.0, description="Highest radiance of the side-slither profile.")
    campaign_acquisition: Literal["dark", "flat", "desert", "scene"] = Field(
        default="desert", description="Acquisition type of every campaign item."
    )
    campaign_dates: int = Field(default=4, ge=1, le=10000, description="Dates in the campaign.")
    campaign_interval_days: float = Field(default=90.0, gt=0.0, description="Days between campaign dates.")
    campaign_sites: tuple[str, ...] = Field(default=(), description="Campaign sites; empty = spread over the list.")
    campaign_site_count: int = Field(default=2, ge=1, le=127, description="Sites per date when none are named.")
    campaign_scene_seed: int | None = Field(
        default=None, ge=0,
        description="Seed of the synthetic scene (and DEM) shared by every campaign item, so all dates see the "
        "same ground; None = each item draws its own from its seed.",
    )
    products: tuple[ProductKind, ...] = Field(
        default=("raw", "l1"), description="Products to write: raw (VSC_RAWDAT), l1 (VSC_L1VALD), reference."
    )
    truth_gipps: bool = Field(default=True, description="Write the truth GIPPs (DARKCU, RELSEN, PHGAIN, …).")
    file_class: str = Field(default="TEST", pattern=r"^[0-9A-Z]{4}$", description="File class in names.")
    l1_gain_date: date | None = Field(
        default=None, description="Date of the A_k used by the L1 (GIPP in force); None = launch gains."
    )
    focal_homothety: float | None = Field(
        default=None, gt=-0.01, lt=0.01,
        description="Injected focal homothety m (unitless, e.g. 5e-5): a detector at focal-plane position (u, v) px "
        "sees the ground the nominal model puts at (1 + m)·(u, v); None = the instrument's attitude.focal_homothety.",
    )
    compress: bool = Field(default=False, description="Deflate-compress the GeoTIFFs (slower).")
    cog: bool = Field(
        default=False, description="Write band files as Cloud-Optimized GeoTIFFs (tiled, with overviews; slower)."
    )
