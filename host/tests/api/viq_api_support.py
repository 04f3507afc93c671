"""Helpers of the API tests: the app over an isolated installation with a token per role, and seeded content.

:func:`open_api` opens the app (TestClient, lifespan run) with the test processor and GIPP model of
:mod:`viq_api_procs`; :func:`seed` fills its catalog, measurement series and GIPP store with known content
(:class:`Seed`), from which the tests derive their expected answers.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import viq_api_procs
from viq_host.api.app import create_app
from viq_host.api.runtime import Runtime
from viq_host.api.store import Role
from viq_host.catalog import NewProduct
from viq_host.config import Settings
from viq_host.gipp import Applicability, GippDraft, Validity
from viq_host.plugins import Plugins, load_plugins
from viq_host.testing.factories import write_geotiff
from viq_host.testing.harness import module_root
from viq_interfaces.result import Measurement

T0 = datetime(2021, 1, 1, tzinfo=UTC)
SITES = ("VENTOUX", "CAMARGUE", "ISRAEL1")
TYPES = ("VSC_L1VALD", "VSC_L2VALD", "IMQ_MTFMES")
BANDS = ("B03", "B07", "B11")


def api_plugins() -> Plugins:
    """Registries with the test processor and GIPP model, the built-in executors and catalog backends."""
    from viq_host.catalog import builtin as catalogs
    from viq_host.executors import builtin as executors

    return load_plugins([viq_api_procs, executors, catalogs], entry_points_enabled=False)


def worker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let ``viq-task`` subprocesses load the test processor."""
    root = module_root("viq_api_procs")
    monkeypatch.setenv("VIQ_EXTRA_PLUGINS", "viq_api_procs")
    monkeypatch.setenv("PYTHONPATH", str(root))
    monkeypatch.delenv("VIQ_HOME", raising=False)


@dataclass
class Api:
    """A running app and a token per role."""

    client: TestClient
    runtime: Runtime
    tokens: dict[str, str] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        """Settings of the installation."""
        return self.runtime.settings

    def headers(self, role: str = "viewer", *, write: bool = False) -> dict[str, str]:
        """Authorization (and for writes the CSRF token) of the role's token."""
        out = {"Authorization": f"Bearer {self.tokens[role]}"}
        if write:
            out["X-CSRF-Token"] = self.csrf[role]
        return out

    def get(self, url: str, role: str = "viewer", **kw: Any) -> Any:
        """GET as ``role``."""
        return self.client.get(url, headers=self.headers(role), **kw)

    def post(self, url: str, role: str = "operator", **kw: Any) -> Any:
        """POST as ``role`` with its CSRF token."""
        headers = {**self.headers(role, write=True), **kw.pop("headers", {})}
        return self.client.post(url, headers=headers, **kw)


@contextlib.contextmanager
def open_api(settings: Settings, *, runner: str = "none", pool_size: int | None = None) -> Iterator[Api]:
    """The app on ``settings`` with tokens for viewer, operator and admin."""
    app = create_app(settings, plugins=api_plugins(), runner="thread" if runner == "thread" else "none",
                     pool_size=pool_size)
    with TestClient(app) as client:
        rt: Runtime = app.state.runtime
        api = Api(client, rt)
        for role in Role:
            token, _ = rt.store.create_token(f"test-{role.label}", role, created_by="pytest")
            api.tokens[role.label] = token
            api.csrf[role.label] = client.get("/api/session", headers={"Authorization": f"Bearer {token}"}).json()[
                "csrf_token"
            ]
        yield api


# -------------------------------------------------------------------------------------------- seeded data


@dataclass
class Seed:
    """What was put in the seeded installation (the tests' ground truth)."""

    products: list[dict[str, Any]]
    """Per product: id, type, site, bands, start (datetime), bbox (lon/lat bounds)."""
    scene_id: int
    derived_id: int
    outside_id: int
    directory_id: int
    scene_pixels: np.ndarray[Any, Any]
    measurements: list[tuple[str, str, datetime, float]]
    """(name, band, time, value) of every stored measurement."""
    gipp_ids: list[int]
    """DARKCU B03 versions: [OPER, CANDIDATE with evidence, CANDIDATE without evidence]."""
    dark_values: list[np.ndarray[Any, Any]]


def _footprint(lon: float, lat: float, size: float = 0.2) -> str:
    return f"POLYGON(({lon} {lat}, {lon + size} {lat}, {lon + size} {lat + size}, {lon} {lat + size}, {lon} {lat}))"


def seed(api: Api) -> Seed:
    """Fill the catalog, the measurement series and the GIPP store of ``api`` with known content."""
    host = api.runtime.host
    data = api.settings.home / "data"
    rng = np.random.default_rng(7)
    pixels = rng.integers(100, 4000, size=(64, 96), dtype=np.uint16)
    scene = write_geotiff(data / "VE_VM01_VSC_L1VALD_VENTOUX_20210301.tif", pixels)
    scene_rec = host.catalog.ingest(
        NewProduct(
            product_type="VSC_L1VALD", path=str(scene), site="VENTOUX", bands=("B03",),
            sensing_start=T0 + timedelta(days=59), sensing_stop=T0 + timedelta(days=59, seconds=30),
            footprint_wkt=_footprint(5.1, 44.0),
        )
    )
    products = [
        {"id": scene_rec.id, "type": "VSC_L1VALD", "site": "VENTOUX", "bands": ("B03",),
         "start": T0 + timedelta(days=59), "bbox": (5.1, 44.0, 5.3, 44.2)}
    ]
    batch = []
    for i in range(36):
        ptype, site, band = TYPES[i % 3], SITES[(i // 3) % 3], BANDS[(i // 9) % 3]
        lon, lat = -10.0 + 1.5 * (i % 12), 30.0 + 4.0 * (i // 12)
        start = T0 + timedelta(days=10 * i)
        path = data / f"synthetic/{ptype}_{site}_{i:03d}.dat"
        batch.append(
            NewProduct(
                product_type=ptype, path=str(path), site=site, bands=(band,), sensing_start=start,
                sensing_stop=start + timedelta(seconds=20), footprint_wkt=_footprint(lon, lat, 0.5),
                size=100 + i, sha256=hashlib.sha256(path.name.encode()).hexdigest(),
            )
        )
        products.append({"type": ptype, "site": site, "bands": (band,), "start": start,
                         "bbox": (lon, lat, lon + 0.5, lat + 0.5)})
    ids = host.catalog.add_products(batch)
    for rec, pid in zip(products[1:], ids, strict=True):
        rec["id"] = pid
    derived_file = data / "VE_VM01_IMQ_MTFMES_VENTOUX_20210301.csv"
    derived_file.write_text("band,mtf50\nB03,0.21\n", encoding="utf-8")
    derived = host.catalog.ingest(
        NewProduct(product_type="IMQ_MTFMES", path=str(derived_file), site="VENTOUX", bands=("B03",),
                   sensing_start=T0 + timedelta(days=59), inputs=(scene_rec.id,), processor="slanted-edge-mtf",
                   processor_version="01.00")
    )
    outside = host.catalog.ingest(
        NewProduct(product_type="AUX_REFDE1", path="/etc/hostname", size=1, sha256="0" * 64, site="ELSEWHERE")
    )
    folder = data / "VE_VM01_VSC_L1VALD_CAMARGUE_DIR"
    folder.mkdir()
    (folder / "readme.txt").write_text("not a raster", encoding="utf-8")
    directory = host.catalog.ingest(NewProduct(product_type="VSC_L1VALD", path=str(folder), site="CAMARGUE"))

    measurements: list[tuple[str, str, datetime, float]] = []
    for k in range(12):
        when = T0 + timedelta(days=30 * k)
        for band, base in (("B03", 130.0), ("B07", 110.0)):
            value = base + 8.0 * np.sin(k) - (40.0 if k in (4, 9) and band == "B07" else 0.0)
            host.catalog.add_measurements([Measurement(name="snr", value=value, band=band)], sensing_time=when,
                                          site="VENTOUX", job_id=f"job-{k}")
            measurements.append(("snr", band, when, value))
        mtf = 0.2 + 0.01 * k
        host.catalog.add_measurements([Measurement(name="mtf50", value=mtf, band="B03")], sensing_time=when)
        measurements.append(("mtf50", "B03", when, mtf))

    gipps = host.gipps
    gipps.grant_role("calib", by="pytest", reason="seeding")
    darks = [20.0 + 0.5 * np.sin(np.arange(64) / 5.0) + rng.normal(0, 0.05, 64) for _ in range(3)]
    gipp_ids = []
    for n, values in enumerate(darks):
        draft = GippDraft(
            gipp_type="GIP_DARKCU", band="B03", tdi_set="111100", applicability=Applicability.all_sites(),
            validity=Validity(start=T0 + timedelta(days=100 * n)), producing_job=f"job-dark-{n}",
            processor_version="dark-signal 01.00",
            content={"List_of_Dark_Currents": {"@count": len(values), "Dark_Current": [float(v) for v in values]}},
        )
        gipp_ids.append(gipps.add(draft, actor="calib").id)
    gipps.attach_validation(gipp_ids[0], metric="residual_striping", value=0.01, threshold=0.05, actor="calib")
    gipps.promote(gipp_ids[0], "TEST", operator="calib", reason="seed")
    gipps.promote(gipp_ids[0], "OPER", operator="calib", reason="seed")
    gipps.attach_validation(gipp_ids[1], metric="residual_striping", value=0.02, threshold=0.05, actor="calib")
    return Seed(products, scene_rec.id, derived.id, outside.id, directory.id, pixels, measurements, gipp_ids, darks)
