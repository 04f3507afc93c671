"""Host settings: every setting has a type, a default and a description.

Sources, later wins: built-in defaults → ``config/viq.toml`` shipped with the workspace (if present) →
``$VIQ_HOME/viq.toml`` → environment variables ``VIQ_<NAME>`` (e.g. ``VIQ_EXECUTOR=drmaa``).
All state lives under ``VIQ_HOME`` (default ``~/.local/share/viq``) so two installations never mix.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from viq_interfaces.errors import ConfigurationError


def default_home() -> Path:
    """``$VIQ_HOME`` or ``~/.local/share/viq``."""
    env = os.environ.get("VIQ_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return (Path.home() / ".local" / "share" / "viq").resolve()


class Settings(BaseSettings):
    """Configuration of one VIQ installation."""

    model_config = SettingsConfigDict(env_prefix="VIQ_", extra="forbid", validate_default=True)

    home: Path = Field(default_factory=default_home, description="Root of all state of this installation.")
    database_url: str = Field(
        default="",
        description="Catalog and GIPP store database: sqlite:///PATH or postgresql://user:pw@host:port/db. "
        "Empty = sqlite file HOME/catalog.sqlite.",
    )
    jobs_url: str = Field(
        default="", description="Job store database (sqlite:///PATH). Empty = HOME/jobs.sqlite."
    )
    data_roots: list[Path] = Field(
        default_factory=list,
        description="Directories job-order input paths must lie in. Empty = HOME/data and the work root.",
    )
    work_root: Path | None = Field(default=None, description="Attempt work directories. Empty = HOME/work.")
    inbox: Path | None = Field(default=None, description="Daemon inbox for job orders. Empty = HOME/inbox.")
    executor: Literal["local", "drmaa"] = Field(default="local", description="Execution back-end.")
    max_parallel: int = Field(default=2, ge=1, le=256, description="Local executor: concurrent tasks.")
    drmaa_queue: str = Field(default="", description="Grid Engine queue for DRMAA jobs (empty = default).")
    drmaa_native_extra: str = Field(default="", description="Extra native specification for DRMAA jobs.")
    max_running: int = Field(
        default=256,
        ge=1,
        description="Daemon: attempts in flight at once, all processors together (the executor may queue "
        "further: Grid Engine slots, local max_parallel).",
    )
    processor_limits: dict[str, PositiveInt] = Field(
        default_factory=dict,
        description="Daemon: attempts in flight at once per processor name, e.g. {\"imq-mtf\": 1} "
        "(environment: JSON, VIQ_PROCESSOR_LIMITS='{\"imq-mtf\": 1}'). Unlisted processors: max_running only.",
    )
    max_job_order_bytes: int = Field(default=1_048_576, ge=1024, description="Largest job order accepted.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Host log level.")
    task_table_dirs: list[Path] = Field(
        default_factory=list,
        description="Directories scanned for Task Table XML files (*.xml) of external processors "
        "(environment: JSON list, e.g. VIQ_TASK_TABLE_DIRS='[\"/opt/ipf/tasktables\"]').",
    )

    @model_validator(mode="after")
    def _fill(self) -> Settings:
        home = self.home
        if not self.database_url:
            self.database_url = f"sqlite:///{home / 'catalog.sqlite'}"
        if not self.jobs_url:
            self.jobs_url = f"sqlite:///{home / 'jobs.sqlite'}"
        if self.work_root is None:
            self.work_root = home / "work"
        if self.inbox is None:
            self.inbox = home / "inbox"
        if not self.data_roots:
            self.data_roots = [home / "data", self.work_root]
        return self

    @property
    def work_dir(self) -> Path:
        """Work root, always set after validation."""
        assert self.work_root is not None
        return self.work_root

    @property
    def inbox_dir(self) -> Path:
        """Inbox, always set after validation."""
        assert self.inbox is not None
        return self.inbox

    def ensure_dirs(self) -> None:
        """Create the state directories (called by commands that write, never at import)."""
        for path in (self.home, self.work_dir, self.inbox_dir, self.home / "data", self.home / "rejected"):
            path.mkdir(parents=True, exist_ok=True)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(f"{path}: {err}") from err
    section = data.get("viq", data)
    if not isinstance(section, dict):
        raise ConfigurationError(f"{path}: [viq] must be a table")
    return section


def load_settings(**overrides: Any) -> Settings:
    """Settings from defaults, ``$VIQ_HOME/viq.toml`` and ``VIQ_*`` variables, then ``overrides``."""
    home = Path(overrides["home"]) if "home" in overrides else default_home()
    file_values: dict[str, Any] = {}
    user_file = home / "viq.toml"
    if user_file.is_file():
        file_values.update(_read_toml(user_file))
    env_names = {f"VIQ_{name.upper()}" for name in Settings.model_fields}
    for key in list(file_values):
        if f"VIQ_{key.upper()}" in os.environ and f"VIQ_{key.upper()}" in env_names:
            del file_values[key]  # environment wins over the file
    values = {**file_values, **overrides, "home": home}
    try:
        return Settings(**values)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"setting {loc}: {first['msg']}") from err
