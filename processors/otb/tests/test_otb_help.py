"""Descriptions parsed from ``otbcli_<App> -help``: roles, types, defaults, choices, cache, missing applications."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from viq_proc_otb import DEFAULT_APPLICATIONS, OtbApplicationMissing, describe, otb_processor, parse_help
from viq_proc_otb.helpparse import cache_dir

pytestmark = pytest.mark.usefixtures("otb")


def test_every_default_application_is_described_with_ports(tmp_path: Path) -> None:
    """Each of the eight applications parses into at least one input and one output port and valid classes."""
    for app in DEFAULT_APPLICATIONS:
        described = describe(app)
        roles = {p.role for p in described.params}
        assert {"input", "output"} <= roles, app
        cls = otb_processor(app)
        assert cls.declaration.name == f"otb-{app.lower()}" and cls.declaration.version == "08.01"
        cls.Parameters()  # every parameter has a default


def test_homologous_points_description_matches_its_help() -> None:
    """HomologousPointsExtraction: in1/in2 mandatory image ports, out mandatory text output, outvector optional,
    algorithm a choice defaulting to surf, threshold 0.6, backmatching false, 2wgs84 renamed n2wgs84."""
    cls = otb_processor("HomologousPointsExtraction")
    decl = cls.declaration
    assert [(p.name, p.mandatory) for p in decl.inputs][:2] == [("in1", True), ("in2", True)]
    assert decl.output("out").format == "TXT" and decl.output("out").min_count == 1
    assert decl.output("outvector").min_count == 0
    params = cls.Parameters()
    dumped = params.model_dump()
    assert dumped["algorithm"] == "surf" and dumped["threshold"] == 0.6 and dumped["backmatching"] is False
    assert dumped["n2wgs84"] is False and dumped["write_outvector"] is False
    with pytest.raises(ValueError, match="surf"):
        cls.Parameters(algorithm="orb")


def test_help_is_cached_and_the_cache_follows_the_launcher() -> None:
    """The first describe writes the cache; a second one reads it (a marker put in the cache comes back)."""
    first = describe("BandMath")
    path = cache_dir() / "BandMath.json"
    data = json.loads(path.read_text())
    data["app"]["summary"] = "from the cache"
    path.write_text(json.dumps(data))
    assert describe("BandMath").summary == "from the cache"
    data["stamp"] = "another launcher"
    path.write_text(json.dumps(data))
    assert describe("BandMath").summary == first.summary


def test_application_not_installed_is_a_clear_error() -> None:
    """An application the installed OTB lacks: OtbApplicationMissing naming it and the installed count."""
    with pytest.raises(OtbApplicationMissing, match=r"'NoSuchApp' is not in the installed Orfeo Toolbox \(\d+ app"):
        describe("NoSuchApp")
    with pytest.raises(OtbApplicationMissing, match="not an OTB application name"):
        describe("../bin/sh")


def test_parse_help_refuses_other_text() -> None:
    """Text that is not an OTB help is refused."""
    with pytest.raises(ValueError, match="not the -help output"):
        parse_help("usage: something else")


def test_no_otb_on_path_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without OTB on PATH the error tells how to install it."""
    monkeypatch.setenv("PATH", os.defpath.replace("/usr/bin", "/nonexistent").replace("/bin", "/nonexistent"))
    with pytest.raises(OtbApplicationMissing, match="otb.sh install"):
        describe("BandMath", use_cache=False)
