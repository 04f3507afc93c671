"""Alerts: measurement values outside their specification."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from viq_host.monitoring.specs import Spec
from viq_host.monitoring.types import SeriesPoint


@dataclass(frozen=True)
class Alert:
    """One value out of its limit, with the job and product that produced it."""

    point: SeriesPoint
    spec: Spec
    kind: str  # "below min" | "above max"

    @property
    def limit(self) -> float:
        """The limit that was crossed."""
        value = self.spec.min if self.kind == "below min" else self.spec.max
        assert value is not None
        return value

    def describe(self) -> str:
        """One line for logs and reports."""
        p = self.point
        band = f" {p.band}" if p.band else ""
        where = f" at {p.site}" if p.site else ""
        return (
            f"{p.time:%Y-%m-%d} {p.name}{band}{where} = {p.value:.4g} {self.kind} {self.limit:.4g}"
            f" (job {p.job_id or '?'}, product {p.product_id if p.product_id is not None else '?'})"
        )


def evaluate(points: Iterable[SeriesPoint], specs: Iterable[Spec]) -> list[Alert]:
    """Every (point, spec) pair where the point is out of the spec's limits, in time order."""
    spec_list = list(specs)
    alerts = []
    for point in points:
        for spec in spec_list:
            if spec.applies(point.name, point.band, point.direction):
                kind = spec.violated_by(point.value)
                if kind:
                    alerts.append(Alert(point, spec, kind))
    return sorted(alerts, key=lambda a: (a.point.time, a.point.name, a.point.band or ""))
