"""Content comparison of two GIPP versions: changed scalars, added/removed fields, and per-element statistics
of the difference for numeric arrays (e.g. the 5200 per-detector values of a DARKCU)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from viq_host.gipp.eexml import block_to_dict, parse_xml
from viq_host.gipp.models import GippRecord
from viq_host.gipp.store import GippStore


@dataclass(frozen=True)
class ArrayDiff:
    """Statistics of ``b - a`` for one numeric array present in both versions with the same length."""

    path: str
    length: int
    changed: int
    mean: float
    std: float
    min: float
    max: float
    rms: float
    max_abs_relative: float
    """max |b - a| / max(|a|, tiny) (0 when nothing changed)."""
    difference: np.ndarray[Any, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class GippDiff:
    """What changed between two GIPP versions."""

    header: list[tuple[str, str, str]]
    changed: list[tuple[str, str, str]]
    added: list[str]
    removed: list[str]
    arrays: list[ArrayDiff]

    @property
    def identical(self) -> bool:
        """True when nothing differs (header or content)."""
        return not (self.header or self.changed or self.added or self.removed or any(a.changed for a in self.arrays))


def _flatten(node: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, f"{prefix}/{key}" if prefix else key, out)
    elif isinstance(node, list) and node and _numeric(node) is not None:
        out[prefix] = _numeric(node)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _flatten(value, f"{prefix}[{i}]", out)
    else:
        out[prefix] = node


def _numeric(values: list[Any]) -> np.ndarray[Any, Any] | None:
    if len(values) < 2:
        return None
    try:
        return np.asarray([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _data(store: GippStore, gipp_id: int) -> dict[str, Any]:
    data = store.content_data(gipp_id)
    if isinstance(data, str):
        return block_to_dict(parse_xml(data.encode(), None))
    return data


def _header(record: GippRecord) -> dict[str, str]:
    return {
        "type": record.gipp_type,
        "serial": f"{record.serial:05d}",
        "status": record.status.value,
        "validity": f"{record.validity.start} .. {record.validity.stop}",
        "applicability": record.applicability.key,
        "band": record.band or "-",
        "tdi_set": record.tdi_set or "-",
        "producing_job": record.producing_job,
        "processor_version": record.processor_version,
    }


def diff_gipps(store: GippStore, a_id: int, b_id: int) -> GippDiff:
    """Compare GIPP ``a_id`` (reference) with ``b_id``; arrays are checksum-verified on read."""
    ha, hb = _header(store.get(a_id)), _header(store.get(b_id))
    header = [(k, ha[k], hb[k]) for k in ha if ha[k] != hb[k]]
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flatten(_data(store, a_id), "", fa)
    _flatten(_data(store, b_id), "", fb)
    changed: list[tuple[str, str, str]] = []
    arrays: list[ArrayDiff] = []
    for path in fa.keys() & fb.keys():
        va, vb = fa[path], fb[path]
        if isinstance(va, np.ndarray) and isinstance(vb, np.ndarray) and va.shape == vb.shape:
            d = vb - va
            scale = np.maximum(np.abs(va), np.finfo(np.float64).tiny)
            arrays.append(
                ArrayDiff(
                    path=path,
                    length=int(d.size),
                    changed=int(np.count_nonzero(d)),
                    mean=float(d.mean()),
                    std=float(d.std()),
                    min=float(d.min()),
                    max=float(d.max()),
                    rms=float(np.sqrt(np.mean(d * d))),
                    max_abs_relative=float(np.max(np.abs(d) / scale)),
                    difference=d,
                )
            )
        elif isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
            la = va.size if isinstance(va, np.ndarray) else 1
            lb = vb.size if isinstance(vb, np.ndarray) else 1
            if not (isinstance(va, np.ndarray) and isinstance(vb, np.ndarray) and np.array_equal(va, vb)):
                changed.append((path, f"{la} value(s)", f"{lb} value(s)"))
        elif va != vb:
            changed.append((path, str(va), str(vb)))
    return GippDiff(
        header=header,
        changed=sorted(changed),
        added=sorted(fb.keys() - fa.keys()),
        removed=sorted(fa.keys() - fb.keys()),
        arrays=sorted(arrays, key=lambda a: a.path),
    )


def plot_array_diff(diff: ArrayDiff, out: Path, title: str) -> Path:
    """A PNG of the per-element difference of one array (e.g. per detector)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(np.arange(diff.length), diff.difference, lw=0.6)
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("index (detector)")
    ax.set_ylabel("B - A")
    ax.set_title(
        f"{title}\n{diff.path}: mean {diff.mean:.4g}, std {diff.std:.4g}, max|rel| {diff.max_abs_relative:.3g}"
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
