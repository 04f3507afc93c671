"""VENµS GIPP / IMQ file names (FACTS.md §3).

``VE_<CLASS>_<TYPE>_<n>_<NICKNAME>_<SERIAL>_<VALIDSTART>_<VALIDSTOP>[_<BAND>[_<TDICODE>]]`` for GIPPs, with
``n`` = ``S`` (one site) or ``L`` (list), an 8-character nick name, a 5-digit serial key, ``yyyymmdd`` dates
(``00000000``/``99999999`` open ends), band code ``B01``…``B12`` and the six-character TDI-set code.
IMQ_SBPARS files are ``VE_<CLASS>_IMQ_SBPARS_<yyyymmddThhmmss>`` (emission date).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from viq_venus.bands import band_code, band_from_code, tdi_code, tdis_from_code

FILE_CLASSES_RE = re.compile(r"^(OPER|TEST|SVT[0-9A-Z]|TD[0-9A-Z]{2}|GSOV|IOTE|VM0[123]|DROB)$")
"""VENµS File_Class values (FACTS.md §2.8)."""

BAND_TDI_TYPES = frozenset({"GIP_DARKCU", "GIP_RELSEN", "GIP_VIEDIR"})
BAND_ONLY_TYPES = frozenset({"GIP_OUTORD", "GIP_STRLGT", "GIP_POLART"})

_GIPP_RE = re.compile(
    r"^VE_(?P<cls>[0-9A-Z]{4})_(?P<type>GIP_[0-9A-Z_]{6})_(?P<app>[SL])_(?P<nick>[0-9A-Z_]{8})_(?P<serial>\d{5})_"
    r"(?P<start>\d{8})_(?P<stop>\d{8})(?:_(?P<band>B(?:0[1-9]|1[0-2]))(?:_(?P<tdi>[01]{4}0[01]))?)?$"
)
_SBPARS_RE = re.compile(r"^VE_(?P<cls>[0-9A-Z]{4})_(?P<type>IMQ_SBPARS)_(?P<emission>\d{8}T\d{6})$")


def nickname(site: str) -> str:
    """Site nick name in the ICD form: upper-case, ``[0-9A-Z_]``, padded with ``_`` to 8 characters."""
    text = re.sub(r"[^0-9A-Z_]", "_", site.upper())[:8]
    return text.ljust(8, "_")


def _date_code(value: date | None, open_code: str) -> str:
    return open_code if value is None else value.strftime("%Y%m%d")


def _parse_date(code: str) -> date | None:
    if code in ("00000000", "99999999"):
        return None
    return datetime.strptime(code, "%Y%m%d").date()


@dataclass(frozen=True)
class GippName:
    """The parts of a GIPP or IMQ file name."""

    file_class: str
    file_type: str
    applicability: str = "L"
    nickname: str = "ALLSITES"
    serial: int = 1
    valid_start: date | None = None
    valid_stop: date | None = None
    band: str | None = None
    tdis: tuple[int, ...] | None = None
    emission: datetime | None = None

    def __post_init__(self) -> None:
        if not FILE_CLASSES_RE.match(self.file_class):
            raise ValueError(f"file_class: {self.file_class!r} is not a VENµS file class")
        if not re.match(r"^[A-Z]{3}_[0-9A-Z_]{6}$", self.file_type):
            raise ValueError(f"file_type: {self.file_type!r} is not a 10-character type code")
        if self.applicability not in ("S", "L"):
            raise ValueError(f"applicability: {self.applicability!r} is not S or L")
        if not re.match(r"^[0-9A-Z_]{8}$", self.nickname):
            raise ValueError(f"nickname: {self.nickname!r} is not 8 characters [0-9A-Z_]")
        if not 0 <= self.serial <= 99999:
            raise ValueError(f"serial: {self.serial} is not a 5-digit key")
        if self.file_type in BAND_TDI_TYPES and (self.band is None or not self.tdis):
            raise ValueError(f"band/tdi: {self.file_type} names need a band and a TDI set")
        if self.file_type in BAND_ONLY_TYPES and self.band is None:
            raise ValueError(f"band: {self.file_type} names need a band")
        if self.band is not None:
            band_code(self.band)
        if self.tdis:
            tdi_code(self.tdis)

    def __str__(self) -> str:
        if self.file_type == "IMQ_SBPARS":
            when = self.emission or datetime(2000, 1, 1)
            return f"VE_{self.file_class}_{self.file_type}_{when.strftime('%Y%m%dT%H%M%S')}"
        parts = [
            "VE",
            self.file_class,
            self.file_type,
            self.applicability,
            self.nickname,
            f"{self.serial:05d}",
            _date_code(self.valid_start, "00000000"),
            _date_code(self.valid_stop, "99999999"),
        ]
        if self.band is not None and (self.file_type in BAND_TDI_TYPES or self.file_type in BAND_ONLY_TYPES):
            parts.append(band_code(self.band))
            if self.tdis and self.file_type in BAND_TDI_TYPES:
                parts.append(tdi_code(self.tdis))
        return "_".join(parts)


def parse_gipp_name(name: str) -> GippName:
    """Parse a GIPP/IMQ_SBPARS file name (extension allowed); ValueError when it does not match."""
    stem = name.rsplit("/", 1)[-1]
    for ext in (".EEF", ".HDR", ".xml", ".XML"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
    m = _SBPARS_RE.match(stem)
    if m:
        return GippName(
            file_class=m["cls"], file_type=m["type"], emission=datetime.strptime(m["emission"], "%Y%m%dT%H%M%S")
        )
    m = _GIPP_RE.match(stem)
    if not m:
        raise ValueError(f"{name!r} is not a VENµS GIPP file name")
    return GippName(
        file_class=m["cls"],
        file_type=m["type"],
        applicability=m["app"],
        nickname=m["nick"],
        serial=int(m["serial"]),
        valid_start=_parse_date(m["start"]),
        valid_stop=_parse_date(m["stop"]),
        band=band_from_code(m["band"]) if m["band"] else None,
        tdis=tdis_from_code(m["tdi"]) if m["tdi"] else None,
    )
