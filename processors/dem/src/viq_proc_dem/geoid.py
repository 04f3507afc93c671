"""Geoid undulation grids (NOAA VDatum GTX or any regular lon/lat grid) and orthometric ↔ ellipsoidal heights.

The interpolation is bilinear in longitude/latitude between grid nodes, with longitude wrap-around for global
grids, which is what PROJ's ``vgridshift`` does with the same grid (tested to 1 mm).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from viq_proc_dem.errors import DemInputError

GTX_HEADER = struct.Struct(">ddddii")
GTX_NODATA = -88.8888


@dataclass(frozen=True)
class GeoidGrid:
    """A regular grid of geoid undulations N (metres above the ellipsoid), nodes at lat0 + i·dlat, lon0 + j·dlon.

    ``values[i, j]`` is the node at row ``i`` counted from the south.
    """

    lat0: float
    lon0: float
    dlat: float
    dlon: float
    values: NDArray[np.float64]
    name: str = "geoid"

    @property
    def is_global(self) -> bool:
        """True when the columns go once around the Earth (the grid wraps in longitude)."""
        return bool(abs(self.values.shape[1] * self.dlon - 360.0) < 1e-6 * max(1.0, abs(self.dlon)))

    def undulation(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """Bilinear undulation N at (lon, lat) in degrees; NaN outside the grid."""
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        rows, cols = self.values.shape
        y = (lat_a - self.lat0) / self.dlat
        x = (lon_a - self.lon0) / self.dlon
        if self.is_global:
            x = np.mod(x, cols)
        i0 = np.floor(y).astype(np.int64)
        j0 = np.floor(x).astype(np.int64)
        # nodes on the last row/column interpolate within the previous cell
        i0 = np.where(i0 == rows - 1, rows - 2, i0)
        if not self.is_global:
            j0 = np.where(j0 == cols - 1, cols - 2, j0)
        fy = y - i0
        fx = x - j0
        inside = (i0 >= 0) & (i0 <= rows - 2) & (j0 >= 0) & (j0 <= cols - 1 if self.is_global else j0 <= cols - 2)
        i0c = np.clip(i0, 0, rows - 2)
        j0c = np.clip(j0, 0, cols - 1)
        j1c = (j0c + 1) % cols if self.is_global else np.clip(j0c + 1, 0, cols - 1)
        v = self.values
        n00 = v[i0c, j0c]
        n01 = v[i0c, j1c]
        n10 = v[i0c + 1, j0c]
        n11 = v[i0c + 1, j1c]
        out = (n00 * (1 - fx) + n01 * fx) * (1 - fy) + (n10 * (1 - fx) + n11 * fx) * fy
        return np.where(inside, out, np.nan)


def read_gtx(path: Path | str, name: str | None = None) -> GeoidGrid:
    """Read a NOAA VDatum ``.gtx`` grid (big-endian header: lat0, lon0, dlat, dlon, rows, cols; float32 rows S→N)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise DemInputError(f"geoid grid {p}: cannot be read ({err})") from err
    if len(raw) < GTX_HEADER.size:
        raise DemInputError(f"geoid grid {p}: too short for a GTX header")
    lat0, lon0, dlat, dlon, rows, cols = GTX_HEADER.unpack_from(raw)
    expected = GTX_HEADER.size + 4 * rows * cols
    if rows < 2 or cols < 2 or dlat <= 0 or dlon <= 0 or len(raw) != expected:
        raise DemInputError(
            f"geoid grid {p}: not a valid GTX file ({rows}x{cols} nodes, {len(raw)} bytes, {expected} expected)"
        )
    values = np.frombuffer(raw, dtype=">f4", offset=GTX_HEADER.size).reshape(rows, cols).astype(np.float64)
    values[np.isclose(values, GTX_NODATA)] = np.nan
    if lon0 >= 180.0:
        lon0 -= 360.0
    return GeoidGrid(lat0=lat0, lon0=lon0, dlat=dlat, dlon=dlon, values=values, name=name or p.stem)


def write_gtx(path: Path | str, grid: GeoidGrid) -> None:
    """Write ``grid`` as a GTX file (used by tests and to export a grid PROJ can read)."""
    rows, cols = grid.values.shape
    header = GTX_HEADER.pack(grid.lat0, grid.lon0, grid.dlat, grid.dlon, rows, cols)
    vals = np.where(np.isnan(grid.values), GTX_NODATA, grid.values).astype(">f4")
    Path(path).write_bytes(header + vals.tobytes())


def to_ellipsoid(
    height: NDArray[np.floating], lon: ArrayLike, lat: ArrayLike, grid: GeoidGrid, direction: int = 1
) -> NDArray[np.float64]:
    """Orthometric → ellipsoidal heights (``direction=1``: h = H + N) or back (``direction=-1``: H = h − N)."""
    if direction not in (1, -1):
        raise ValueError("direction must be 1 (geoid → ellipsoid) or -1 (ellipsoid → geoid)")
    n = grid.undulation(lon, lat)
    if np.isnan(n).any():
        raise DemInputError(f"geoid grid {grid.name} does not cover the area")
    return np.asarray(height, dtype=np.float64) + direction * n
