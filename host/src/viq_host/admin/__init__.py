"""Operator tools: backup and restore of an installation, and its status at a glance."""

from viq_host.admin.backup import BackupError, Manifest, RestoreReport, backup, restore, verify
from viq_host.admin.status import Status, collect_status, render

__all__ = ["BackupError", "Manifest", "RestoreReport", "Status", "backup", "collect_status", "render", "restore",
           "verify"]
