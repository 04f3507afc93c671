"""Helpers of the geometry tests (uniquely named module): textures, sub-pixel shifts, GeoTIFFs, run contexts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from pydantic import BaseModel

from viq_host.testing.context import ListLogger
from viq_interfaces import InputProduct, RunContext

F64 = npt.NDArray[np.float64]
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def texture(shape: tuple[int, int], seed: int, beta: float = 2.6) -> F64:
    """A fractal texture (power spectrum ∝ 1/f^beta), zero mean, unit std."""
    rng = np.random.default_rng(seed)
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    spec = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * f ** (-beta / 2)
    spec[0, 0] = 0
    out = np.fft.ifft2(spec).real
    return np.asarray((out - out.mean()) / out.std(), dtype=np.float64)


def fourier_shift(img: F64, sx: float, sy: float) -> F64:
    """``out(p) = img(p + s)`` with a periodic sub-pixel Fourier shift."""
    ky = np.fft.fftfreq(img.shape[0])[:, None]
    kx = np.fft.fftfreq(img.shape[1])[None, :]
    return np.asarray(np.fft.ifft2(np.fft.fft2(img) * np.exp(2j * np.pi * (kx * sx + ky * sy))).real)


def warp_affine_shift(img: F64, cx: tuple[float, float, float], cy: tuple[float, float, float]) -> F64:
    """``out(x, y) = img(x + sx(x, y), y + sy(x, y))`` with affine shift fields (cubic spline interpolation)."""
    from scipy import ndimage

    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sx = cx[0] + cx[1] * xx + cx[2] * yy
    sy = cy[0] + cy[1] * xx + cy[2] * yy
    return np.asarray(ndimage.map_coordinates(img, [yy + sy, xx + sx], order=5, mode="reflect"))


def write_tif(path: Path, data: npt.NDArray[Any], x0: float = 600000.0, y0: float = 4800000.0, res: float = 10.0,
              crs: str = "EPSG:32631", nodata: float | None = None) -> Path:
    """A one-band float32 GeoTIFF, north-up."""
    arr = np.asarray(data, dtype=np.float32)
    prof: dict[str, Any] = {"driver": "GTiff", "width": arr.shape[1], "height": arr.shape[0], "count": 1,
                            "dtype": "float32", "crs": crs, "transform": Affine(res, 0, x0, 0, -res, y0)}
    if nodata is not None:
        prof["nodata"] = nodata
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(arr, 1)
    return path


def make_ctx(processor: Any, tmp: Path, inputs: dict[str, list[tuple[Path, str]]], **params: Any) -> RunContext[Any]:
    """A hand-built RunContext for ``processor`` (a class) with ``inputs`` = port → [(path, type)]."""
    out = tmp / "out"
    work = tmp / "work"
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    p: BaseModel = processor.Parameters(**params)
    return RunContext(
        job_id="J1", attempt_id="A1", processor=processor.declaration.name, version=processor.declaration.version,
        inputs={k: tuple(InputProduct(path=pth, product_type=t) for pth, t in v) for k, v in inputs.items()},
        params=p, gipps={}, work_dir=work, output_dir=out, logger=ListLogger(), is_cancelled=lambda: False,
    )
