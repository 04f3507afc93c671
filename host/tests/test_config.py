"""Settings: VIQ_HOME isolates installations; file < environment < overrides; bad values name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from viq_host.config import load_settings
from viq_interfaces import ConfigurationError


def test_all_state_lives_under_viq_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Databases, work root, inbox and data roots default to paths inside VIQ_HOME."""
    monkeypatch.setenv("VIQ_HOME", str(tmp_path))
    s = load_settings()
    assert s.home == tmp_path.resolve()
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'catalog.sqlite'}"
    assert s.jobs_url.endswith("jobs.sqlite") and str(tmp_path) in s.jobs_url
    assert s.work_dir == tmp_path.resolve() / "work"
    assert all(str(r).startswith(str(tmp_path.resolve())) for r in s.data_roots)


def test_file_then_environment_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """viq.toml sets values, VIQ_* variables win over the file, explicit overrides win over both."""
    monkeypatch.setenv("VIQ_HOME", str(tmp_path))
    (tmp_path / "viq.toml").write_text('[viq]\nmax_parallel = 5\nexecutor = "drmaa"\n')
    assert load_settings().max_parallel == 5
    monkeypatch.setenv("VIQ_MAX_PARALLEL", "7")
    s = load_settings()
    assert s.max_parallel == 7 and s.executor == "drmaa"
    assert load_settings(max_parallel=3).max_parallel == 3


def test_bad_setting_names_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid executor or a malformed file is a ConfigurationError naming the setting or file."""
    monkeypatch.setenv("VIQ_HOME", str(tmp_path))
    (tmp_path / "viq.toml").write_text('[viq]\nexecutor = "slurm"\n')
    with pytest.raises(ConfigurationError, match="executor"):
        load_settings()
    (tmp_path / "viq.toml").write_text("[viq\n")
    with pytest.raises(ConfigurationError, match="viq.toml"):
        load_settings()
