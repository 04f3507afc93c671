"""Shared processor glue: parameters of every candidate, input products, GIPP lookup, outputs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from viq_interfaces import GippInForce, InputProduct, RunContext
from viq_interfaces.errors import GippError, MissingInputError, ParameterError
from viq_proc_radiometry.dark import DarkEstimate, estimate_dark
from viq_proc_radiometry.errors import BadInputError
from viq_proc_radiometry.gipps import Stamp
from viq_proc_radiometry.rawio import RawProduct, read_raw_product
from viq_proc_radiometry.stats import BlockSource
from viq_venus.bands import BAND_NAMES
from viq_venus.gipp import parse_gipp_name

F64 = npt.NDArray[np.float64]


class CandidateParameters(BaseModel):
    """Parameters shared by every processor writing candidate GIPPs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bands: tuple[str, ...] = Field(default=(), description="Bands to process (B1…B12); empty = every band present.")
    file_class: str = Field(default="TEST", pattern=r"^[0-9A-Z]{4}$", description="File class of the candidates.")
    serial: int = Field(default=1, ge=0, le=99999, description="Serial key of the candidates.")
    validity_start: datetime | None = Field(
        default=None, description="Validity start of the candidates; None = sensing day of the first input."
    )
    validity_stop: datetime | None = Field(default=None, description="Validity stop; None = open (end of mission).")


def params_as(ctx: RunContext[BaseModel], cls: type[BaseModel]) -> Any:
    """``ctx.params`` as ``cls`` (re-validated when the host passed another model)."""
    p = ctx.params
    if isinstance(p, cls):
        return p
    try:
        return cls.model_validate(p.model_dump())
    except ValueError as err:
        raise ParameterError(f"parameters: {err}") from err


def load_products(ctx: RunContext[BaseModel], port: str, kinds: Sequence[str] | None = None) -> list[RawProduct]:
    """Raw products of ``port`` (checked to be of an acquisition kind in ``kinds`` when given)."""
    out = []
    for item in ctx.all(port):
        if not Path(item.path).is_file():
            raise MissingInputError(f"input {port}: {item.path} does not exist")
        prod = read_raw_product(item.path)
        if kinds is not None and prod.acquisition not in kinds:
            raise BadInputError(
                f"input {port}: {prod.header.name} is a {prod.acquisition or 'unknown'} acquisition, "
                f"expected {' or '.join(kinds)}"
            )
        out.append(prod)
    return out


def check_consistent(products: Sequence[RawProduct], port: str) -> tuple[int, int]:
    """(TDI, columns) common to ``products``; BadInputError naming the files when they differ."""
    if not products:
        raise MissingInputError(f"input {port}: no product given")
    tdis = {p.tdi for p in products}
    if len(tdis) > 1:
        detail = ", ".join(f"{p.header.name}: TDI {p.tdi}" for p in products)
        raise BadInputError(f"input {port}: mixed TDI settings ({detail}); one run calibrates one TDI")
    cols = {p.columns for p in products}
    if len(cols) > 1:
        detail = ", ".join(f"{p.header.name}: {p.columns}" for p in products)
        raise BadInputError(f"input {port}: different detector counts ({detail})")
    return products[0].tdi, products[0].columns


def bands_to_process(products: Sequence[RawProduct], wanted: Sequence[str], port: str) -> list[str]:
    """Bands present in every product, restricted to ``wanted``; BadInputError when one is missing."""
    common = [b for b in BAND_NAMES if all(b in p.band_files for p in products)]
    if not wanted:
        if not common:
            raise BadInputError(f"input {port}: no band common to every product")
        return common
    for band in wanted:
        if band not in BAND_NAMES:
            raise ParameterError(f"bands: unknown band {band!r}")
        for p in products:
            if band not in p.band_files:
                raise BadInputError(f"input {port}: {p.header.name} has no band {band}")
    return list(wanted)


def block_source(products: Sequence[RawProduct], band: str) -> BlockSource:
    """Blocks of ``band`` of every product in turn (a new iterator per call)."""

    def gen() -> Iterator[npt.NDArray[np.uint16]]:
        for p in products:
            for _, block in p.blocks(band):
                yield block

    return gen


def stamp(ctx: RunContext[BaseModel], params: CandidateParameters, products: Sequence[RawProduct],
          notes: str = "") -> Stamp:
    """Header facts shared by the candidates of this run."""
    start = params.validity_start
    if start is None:
        times = [p.sensing_start for p in products if p.sensing_start is not None]
        start = datetime.combine(min(times).date(), datetime.min.time()) if times else None
    return Stamp(creator=ctx.processor, file_class=params.file_class, serial=params.serial,
                 validity_start=start, validity_stop=params.validity_stop,
                 notes=notes or f"Candidate from job {ctx.job_id}.")


def sensing_window(products: Sequence[RawProduct]) -> tuple[datetime | None, datetime | None]:
    """First and last sensing start of the inputs."""
    times = [p.sensing_start for p in products if p.sensing_start is not None]
    if not times:
        return None, None
    return min(times), max(times) + timedelta(seconds=1)


def _band_of(path: Path) -> tuple[str | None, tuple[int, ...] | None]:
    try:
        name = parse_gipp_name(path.name)
    except ValueError:
        return None, None
    return name.band, name.tdis


def find_gipp(
    ctx: RunContext[BaseModel], gipp_type: str, band: str | None, tdi: int | None, port: str | None = None
) -> Path | None:
    """A GIPP of ``gipp_type`` for band/TDI: a named candidate on input ``port`` first, else the one in force.

    None when neither exists; GippError when several match.
    """
    found: list[Path] = []
    if port is not None:
        for item in ctx.all(port):
            b, t = _band_of(Path(item.path))
            if (band is None or b in (None, band)) and (tdi is None or t is None or tdi in t):
                found.append(Path(item.path))
        if len(found) > 1:
            raise GippError(f"input {port}: {len(found)} {gipp_type} files match band {band} TDI {tdi}")
        if found:
            return found[0]
    forced: list[GippInForce] = [
        g for g in ctx.gipps.get(gipp_type, ())
        if (band is None or g.band in (None, band)) and (tdi is None or g.tdi in (None, tdi))
    ]
    if len(forced) > 1:
        raise GippError(f"{len(forced)} {gipp_type} GIPPs in force for band {band} TDI {tdi}")
    return Path(forced[0].path) if forced else None


def dark_for(
    ctx: RunContext[BaseModel], darks: Sequence[RawProduct], band: str, tdi: int, n_pixels: int, what: str
) -> tuple[F64, F64, str]:
    """Dark per detector, its variance and where it came from: the dark inputs, else the GIP_DARKCU in force."""
    from viq_proc_radiometry.gipps import load_dark

    if darks:
        dtdi, dcols = check_consistent(darks, "dark")
        if dtdi != tdi:
            raise BadInputError(f"input dark: TDI {dtdi} but the {what} are TDI {tdi}")
        if dcols != n_pixels:
            raise BadInputError(f"input dark: {dcols} detectors but the {what} have {n_pixels}")
        est: DarkEstimate = estimate_dark(block_source(darks, band), sum(d.lines for d in darks), n_pixels)
        return est.dark, est.uncertainty**2, f"{len(darks)} dark acquisition(s)"
    path = find_gipp(ctx, "GIP_DARKCU", band, tdi, port="darkcu" if "darkcu" in ctx.inputs else None)
    if path is None:
        raise MissingInputError(f"band {band} TDI {tdi}: no dark acquisition and no GIP_DARKCU in force")
    return load_dark(path, band, tdi, n_pixels), np.zeros(n_pixels), path.name


def input_products(ctx: RunContext[BaseModel], port: str) -> tuple[InputProduct, ...]:
    """Inputs of ``port`` (empty tuple when absent)."""
    return ctx.all(port)


def write_plot_safely(fn: Any, *args: Any) -> None:
    """Draw with the Agg backend (no display)."""
    import matplotlib

    matplotlib.use("Agg")
    fn(*args)
