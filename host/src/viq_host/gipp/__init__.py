"""The GIPP store: versioned calibration parameters, their validity and applicability, and the audited
promotion workflow (see ``docs/gipp-store.md``)."""

from viq_host.gipp.eexml import EEGippDocument, GippName, read_gipp, write_gipp
from viq_host.gipp.models import (
    Applicability,
    ArrayRef,
    AuditEntry,
    ChecksumMismatch,
    GippAmbiguous,
    GippContentError,
    GippDraft,
    GippFileError,
    GippNotFound,
    GippRecord,
    GippStatus,
    GippStoreError,
    InvalidTransition,
    OverlappingOper,
    PromotionConflict,
    PromotionRefused,
    ValidationResult,
    Validity,
    VersionConflict,
)
from viq_host.gipp.resolver import GippResolver, make_gipp_resolver
from viq_host.gipp.store import GippStore, open_gipp_store

__all__ = [
    "Applicability",
    "ArrayRef",
    "AuditEntry",
    "ChecksumMismatch",
    "EEGippDocument",
    "GippAmbiguous",
    "GippContentError",
    "GippDraft",
    "GippFileError",
    "GippName",
    "GippNotFound",
    "GippRecord",
    "GippResolver",
    "GippStatus",
    "GippStore",
    "GippStoreError",
    "InvalidTransition",
    "OverlappingOper",
    "PromotionConflict",
    "PromotionRefused",
    "ValidationResult",
    "Validity",
    "VersionConflict",
    "make_gipp_resolver",
    "open_gipp_store",
    "read_gipp",
    "write_gipp",
]
