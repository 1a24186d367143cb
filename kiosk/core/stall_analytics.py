"""Occupancy figures from the stall timeline: uses, time in use, and when the stalls are busiest.

A *use* is one stretch of OCCUPIED. Stretches are cut at the range's edges, so a use that began before `since` counts
its time inside the range but not as a use started in it. Stretches of NO SIGNAL count as neither use nor free time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

OCCUPIED = "occupied"


@dataclass(frozen=True)
class StallFigures:
    stall_id: int
    uses: int
    occupied_s: float
    mean_use_s: float | None
    uses_per_hour: float


@dataclass(frozen=True)
class Occupancy:
    stalls: dict[int, StallFigures]
    heat: list[list[int]]  # [weekday 0 = Monday][hour]: uses started

    def busiest(self, n: int = 3) -> list[tuple[int, int, int]]:
        """The n busiest (weekday, hour, uses), most first."""
        cells = [(uses, day, hour) for day, row in enumerate(self.heat) for hour, uses in enumerate(row) if uses]
        return [(day, hour, uses) for uses, day, hour in sorted(cells, key=lambda c: (-c[0], c[1], c[2]))[:n]]


def occupancy(events: list[tuple[int, float, str]], since: float, until: float,
              local: Callable[[float], datetime] = datetime.fromtimestamp) -> Occupancy:
    """Figures for [since, until) from (stall id, time, state) changes, each stall's state at `since` included."""
    per_stall: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for stall_id, ts, state in sorted(events, key=lambda e: (e[0], e[1])):
        per_stall[stall_id].append((max(ts, since), state))
    heat = [[0] * 24 for _ in range(7)]
    hours = max(until - since, 1.0) / 3600
    figures = {}
    for stall_id, changes in per_stall.items():
        uses, occupied = 0, 0.0
        for index, (ts, state) in enumerate(changes):
            end = changes[index + 1][0] if index + 1 < len(changes) else until
            if state != OCCUPIED or end <= ts:
                continue
            occupied += min(end, until) - ts
            if ts > since:
                uses += 1
                when = local(ts)
                heat[when.weekday()][when.hour] += 1
        figures[stall_id] = StallFigures(stall_id, uses, occupied, occupied / uses if uses else None, uses / hours)
    return Occupancy(figures, heat)
