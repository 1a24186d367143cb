"""Prometheus text exposition (format 0.0.4) for `GET /metrics`: pure, so it is tested without a server.

Names follow Prometheus conventions: `kiosk_` prefix, `_total` for counters, base units (bytes, seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Metric:
    name: str
    kind: str  # counter or gauge
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float | int | bool | None, **labels: str) -> Metric:
        if value is not None:
            self.samples.append((labels, float(value)))
        return self


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def render(metrics: list[Metric]) -> str:
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {metric.help}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        for labels, value in metric.samples:
            label_text = ",".join(f'{key}="{_escape(str(val))}"' for key, val in sorted(labels.items()))
            lines.append(f"{metric.name}{{{label_text}}} {_number(value)}" if labels else
                         f"{metric.name} {_number(value)}")
    return "\n".join(lines) + "\n"
