"""GIPP store data model: statuses, validity, applicability, records, evidence, audit, and the errors.

Every error derives from :class:`viq_interfaces.errors.GippError` (exit code 135) through
:class:`GippStoreError`, so a job that cannot get its GIPPs fails with the GIPP exit code and a CLI user
gets one precise line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from viq_interfaces.errors import GippError

#: GIPP types the host knows without any plugin (content kept raw unless a model is registered).
BUILTIN_GIPP_TYPES: tuple[str, ...] = (
    "GIP_DARKCU",
    "GIP_RELSEN",
    "GIP_PHGAIN",
    "GIP_NOISMO",
    "GIP_OUTORD",
    "GIP_SENGEO",
    "GIP_VIEDIR",
    "IMQ_SBPARS",
    "AUX_REFDE1",
)

TYPE_PATTERN = re.compile(r"^(MPL_|TLM_|AUX_|VSC_|EXO_|PRM_|RCV_|PMC_|CAT_|IMQ_|TEC_|GIP_)[0-9A-Z_]{6}$")
BAND_PATTERN = re.compile(r"^B(0[1-9]|1[0-2])$")
TDI_SET_PATTERN = re.compile(r"^[01]{4}0[01]$")
NICK_PATTERN = re.compile(r"^[0-9A-Z_]{1,8}$")
#: TDI configurations, in the left-to-right order of the 6-character TDI-set code (the 5th flag, 02, is always 0).
TDI_ORDER: tuple[int, ...] = (32, 16, 8, 4, 2, 1)
ALLSITES = "ALLSITES"
NOTNAMED = "NOTNAMED"


class GippStatus(StrEnum):
    """Life cycle of a GIPP version: CANDIDATE → TEST → OPER → RETIRED."""

    CANDIDATE = "CANDIDATE"
    TEST = "TEST"
    OPER = "OPER"
    RETIRED = "RETIRED"


#: Allowed status changes. Retirement is possible from every live status; nothing else skips a step.
TRANSITIONS: dict[GippStatus, frozenset[GippStatus]] = {
    GippStatus.CANDIDATE: frozenset({GippStatus.TEST, GippStatus.RETIRED}),
    GippStatus.TEST: frozenset({GippStatus.OPER, GippStatus.RETIRED}),
    GippStatus.OPER: frozenset({GippStatus.RETIRED}),
    GippStatus.RETIRED: frozenset(),
}


# ---------------------------------------------------------------------------------------------- errors


class GippStoreError(GippError):
    """Root of the GIPP store errors (a :class:`GippError`, exit code 135)."""


class GippNotFound(GippStoreError):
    """Raised when a GIPP id does not exist or no GIPP is in force for a lookup."""


class GippAmbiguous(GippStoreError):
    """Raised when more than one GIPP is in force for a lookup that expects exactly one."""


class GippFileError(GippStoreError, ValueError):
    """Raised when a GIPP XML file is malformed or inconsistent; ``source`` and ``line`` locate the fault."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        where = ""
        if source:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(f"{where}{message}")


class GippContentError(GippFileError):
    """Raised when a GIPP's content does not validate against the model registered for its type."""


class InvalidTransition(GippStoreError, ValueError):
    """Raised when a status change is not in the life cycle (e.g. CANDIDATE → OPER, or anything after RETIRED)."""


class PromotionRefused(GippStoreError, PermissionError):
    """Raised when a promotion lacks an operator, a reason, the operator role or a passing validation result."""


class PromotionConflict(GippStoreError):
    """Raised when another promotion of the same series won the race; re-read and decide again."""


class OverlappingOper(GippStoreError):
    """Raised when an OPER validity would overlap another OPER version of the same series ambiguously."""


class ChecksumMismatch(GippStoreError):
    """Raised when a stored array or evidence file no longer matches its recorded sha256."""


class VersionConflict(GippStoreError):
    """Raised when a version (type, applicability, band, TDI, serial) is already stored with different content."""


# ---------------------------------------------------------------------------------------------- values


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime without microseconds (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)


class Validity(_Frozen):
    """A validity period; ``None`` start = beginning of mission, ``None`` stop = end of mission."""

    start: datetime | None = Field(default=None, description="First instant of validity (UTC), None = open.")
    stop: datetime | None = Field(default=None, description="End of validity (UTC, exclusive), None = open.")

    @field_validator("start", "stop")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value)

    @model_validator(mode="after")
    def _order(self) -> Validity:
        if self.start is not None and self.stop is not None and self.stop <= self.start:
            raise ValueError(f"validity stop {self.stop} is not after start {self.start}")
        return self

    def contains(self, at: datetime) -> bool:
        """True when ``at`` lies in [start, stop)."""
        at = utc(at)
        return (self.start is None or self.start <= at) and (self.stop is None or at < self.stop)

    def overlaps(self, other: Validity) -> bool:
        """True when the two half-open periods share an instant."""
        a0 = self.start or datetime.min.replace(tzinfo=UTC)
        a1 = self.stop or datetime.max.replace(tzinfo=UTC)
        b0 = other.start or datetime.min.replace(tzinfo=UTC)
        b1 = other.stop or datetime.max.replace(tzinfo=UTC)
        return a0 < b1 and b0 < a1


class Applicability(_Frozen):
    """Which sites a GIPP applies to: all sites, one site, or a (named or unnamed) list of sites."""

    kind: Literal["ALLSITES", "SITE", "LIST"] = Field(default="ALLSITES", description="Applicability kind.")
    name: str = Field(default=ALLSITES, description="Nick name in the file name (site, list nick or NOTNAMED).")
    sites: tuple[str, ...] = Field(default=(), description="Site nick names (upper case, no padding).")

    @model_validator(mode="after")
    def _check(self) -> Applicability:
        for nick in (self.name, *self.sites):
            if not NICK_PATTERN.match(nick):
                raise ValueError(f"site or list nick name {nick!r} is not 1-8 characters [0-9A-Z_]")
        if self.kind == "ALLSITES" and (self.name != ALLSITES or self.sites):
            raise ValueError("ALLSITES applicability takes no site list")
        if self.kind == "SITE" and self.sites != (self.name,):
            raise ValueError("a one-site applicability lists exactly its own site")
        if self.kind == "LIST" and (not self.sites or self.name == ALLSITES):
            raise ValueError("a list applicability needs a list nick (or NOTNAMED) and at least one site")
        return self

    @classmethod
    def all_sites(cls) -> Applicability:
        """Applies everywhere."""
        return cls()

    @classmethod
    def site(cls, nick: str) -> Applicability:
        """Applies to one site."""
        return cls(kind="SITE", name=nick.upper(), sites=(nick.upper(),))

    @classmethod
    def site_list(cls, sites: list[str] | tuple[str, ...], name: str = NOTNAMED) -> Applicability:
        """Applies to the listed sites (``name`` is the list nick, NOTNAMED by default)."""
        return cls(kind="LIST", name=name.upper(), sites=tuple(sorted({s.upper() for s in sites})))

    @property
    def key(self) -> str:
        """Series key: equal for equal applicabilities."""
        if self.kind == "ALLSITES":
            return ALLSITES
        return f"{self.kind}:{self.name}:{','.join(self.sites)}"

    def applies_to(self, site: str | None) -> bool:
        """True when the GIPP applies to ``site`` (``None`` = the job names no site: only ALLSITES applies)."""
        if self.kind == "ALLSITES":
            return True
        return site is not None and site.upper().rstrip("_") in self.sites

    def intersects(self, other: Applicability) -> bool:
        """True when some site is covered by both."""
        if self.kind == "ALLSITES" or other.kind == "ALLSITES":
            return True
        return bool(set(self.sites) & set(other.sites))


def tdi_set_code(configurations: list[int] | tuple[int, ...]) -> str:
    """The 6-character TDI-set code (``[32, 16, 8, 4]`` → ``111100``)."""
    bad = [c for c in configurations if c not in (1, 4, 8, 16, 32)]
    if bad:
        raise ValueError(f"TDI configurations {bad} are not among 1, 4, 8, 16, 32")
    return "".join("1" if c in configurations else "0" for c in TDI_ORDER)


def tdi_configurations(code: str) -> tuple[int, ...]:
    """The TDI configurations of a 6-character code (``111100`` → ``(32, 16, 8, 4)``)."""
    if not TDI_SET_PATTERN.match(code):
        raise ValueError(f"TDI set code {code!r} is not 6 characters [01]{{4}}0[01]")
    return tuple(c for flag, c in zip(code, TDI_ORDER, strict=True) if flag == "1")


class GippDraft(_Frozen):
    """A new GIPP version as given to :meth:`GippStore.add` (the store fills id, status history, file name)."""

    gipp_type: str = Field(description="10-character type code, e.g. 'GIP_DARKCU'.")
    serial: int | None = Field(default=None, ge=0, le=99999, description="Serial key; None = next in the series.")
    validity: Validity = Field(default_factory=Validity, description="Validity period.")
    applicability: Applicability = Field(default_factory=Applicability, description="Sites it applies to.")
    band: str | None = Field(default=None, description="Band code B01..B12 when band-specific.")
    tdi_set: str | None = Field(default=None, description="TDI-set code (e.g. '111100') when TDI-specific.")
    producing_job: str = Field(default="", description="Job id that produced the GIPP.")
    processor_version: str = Field(default="", description="Processor name and version that produced it.")
    input_products: tuple[str, ...] = Field(default=(), description="Input product names or ids used.")
    description: str = Field(default="", description="File_Description (EE header); default = the type code.")
    notes: str = Field(default="", description="Free notes (EE header Notes).")
    creator: str = Field(default="viq", description="Source/Creator (EE header).")
    creator_version: str = Field(default="1.0", description="Source/Creator_Version (EE header).")
    content: Any = Field(default=None, description="Data_Block content: a registered model, a mapping, or XML.")

    @field_validator("gipp_type")
    @classmethod
    def _type(cls, value: str) -> str:
        if not TYPE_PATTERN.match(value):
            raise ValueError(f"GIPP type {value!r} is not a 10-character code like 'GIP_DARKCU'")
        return value

    @field_validator("band")
    @classmethod
    def _band(cls, value: str | None) -> str | None:
        if value is not None and not BAND_PATTERN.match(value):
            raise ValueError(f"band {value!r} is not B01..B12")
        return value

    @field_validator("tdi_set")
    @classmethod
    def _tdi(cls, value: str | None) -> str | None:
        if value is not None:
            tdi_configurations(value)
        return value


class ArrayRef(_Frozen):
    """A large numeric array of a GIPP, stored as a file referenced by its sha256."""

    name: str = Field(description="Path of the array in the content (e.g. 'List_of_Dark_Currents/Dark_Current').")
    sha256: str = Field(description="sha256 of the stored .npy file.")
    dtype: str = Field(description="numpy dtype.")
    length: int = Field(description="Number of values.")
    path: str = Field(description="File path relative to the store directory.")


class GippRecord(_Frozen):
    """One stored GIPP version."""

    id: int
    gipp_type: str
    serial: int
    validity: Validity
    original_stop: datetime | None = Field(description="Validity stop as created (before any closing).")
    applicability: Applicability
    band: str | None
    tdi_set: str | None
    status: GippStatus
    producing_job: str
    processor_version: str
    input_products: tuple[str, ...]
    description: str
    notes: str
    creator: str
    creator_version: str
    creation_date: datetime
    content_sha256: str
    registered: bool = Field(description="Content validated by a registered model (else raw Data_Block).")
    arrays: tuple[ArrayRef, ...] = ()
    instance_id: str | None = Field(
        default=None,
        description="File instance named by the content (``file_instance()`` of its model, e.g. the AUX_REFDE1 "
        "corners); None = the GIP name pattern.",
    )

    @property
    def file_class(self) -> str:
        """EE File_Class: OPER for OPER GIPPs, TEST for every other status."""
        return "OPER" if self.status == GippStatus.OPER else "TEST"

    @property
    def tdi_configurations(self) -> tuple[int, ...]:
        """TDI configurations covered (empty when not TDI-specific)."""
        return tdi_configurations(self.tdi_set) if self.tdi_set else ()

    @property
    def series_key(self) -> str:
        """Type/band/TDI/applicability: the versions of one series replace each other."""
        return "|".join((self.gipp_type, self.band or "-", self.tdi_set or "-", self.applicability.key))

    @property
    def file_name(self) -> str:
        """VENµS file name (without extension) for the current status and validity."""
        from viq_host.gipp.eexml import GippName

        return str(GippName.for_record(self))


class ValidationResult(_Frozen):
    """Evidence attached to a GIPP: one metric measured with the candidate applied."""

    id: int = 0
    gipp_id: int = 0
    metric: str = Field(description="Metric name, e.g. 'residual_striping' or 'band_to_band_residual'.")
    value: float = Field(description="Measured value.")
    threshold: float | None = Field(default=None, description="Acceptance threshold, when one applies.")
    passed: bool | None = Field(default=None, description="Verdict; None = informative only.")
    evidence_path: str | None = Field(default=None, description="Evidence file in the store directory.")
    evidence_sha256: str | None = Field(default=None, description="sha256 of the evidence file.")
    recorded_by: str = ""
    recorded_at: datetime | None = None
    note: str = ""


class AuditEntry(_Frozen):
    """One recorded action on the store: who, when, what, why."""

    id: int
    at: datetime
    actor: str
    action: str
    gipp_id: int | None
    reason: str
    detail: dict[str, Any] = Field(default_factory=dict)


def now_utc() -> datetime:
    """The current time, UTC, whole seconds."""
    return utc(datetime.now(UTC))
