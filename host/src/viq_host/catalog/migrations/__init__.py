"""Forward migrations of the catalog schema, one numbered SQL file per version and backend.

``sqlite/NNNN_name.sql`` and ``postgis/NNNN_name.sql`` must exist in pairs with the same numbers; the
applied versions are recorded in the ``schema_version`` table. Never edit a released file: add a new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

Backend = Literal["sqlite", "postgis"]
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One forward step: ``version`` (1, 2…), a short description, the SQL script."""

    version: int
    description: str
    sql: str


def migrations(backend: Backend) -> list[Migration]:
    """The migrations of ``backend`` in version order."""
    found: list[Migration] = []
    for entry in resources.files(__name__).joinpath(backend).iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2).replace("_", " "), entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    if [mig.version for mig in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"catalog migrations for {backend} are not numbered 1..n: {[m.version for m in found]}")
    return found


def latest_version() -> int:
    """The schema version this code writes (same for both backends)."""
    return len(migrations("sqlite"))


def split_statements(sql: str) -> list[str]:
    """Split a script into statements at semicolons outside quotes and ``--`` comments."""
    out: list[str] = []
    buf: list[str] = []
    quote = ""
    i = 0
    while i < len(sql):
        c = sql[i]
        if quote:
            buf.append(c)
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
            buf.append(c)
        elif c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = len(sql) if j < 0 else j
            continue
        elif c == ";":
            stmt = "".join(buf).strip()
            if stmt:
                out.append(stmt)
            buf = []
        else:
            buf.append(c)
        i += 1
    tail = "".join(buf).strip()
    if tail:
        out.append(tail)
    return out
