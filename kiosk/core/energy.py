"""Energy rules, pure: port status, phantom (standby) load detection, noise floor and baseline, rollups, cost.

Standby loads are 1-10 W, about the size of a cheap sensor's error, so the detector is careful:
- every decision uses the **median of the last minute** of readings (a spike or a dropped sample moves nothing);
- a port's **noise floor** is calibrated (readings with the load unplugged: mean + 3 sigma), or estimated from its
  own low readings (three times the noise measured from successive differences);
- a port that **should be idle** (outside its schedule, or below its active threshold) and draws more than its noise
  floor plus a margin for longer than `phantom_after_s` is flagged **phantom**; it stays phantom until the draw falls
  below the floor plus half the margin (hysteresis), so a load hovering at the edge does not flap;
- the **baseline** (always-on draw) is a low percentile of the per-minute medians over the last 48 h, as commercial
  meters report it.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from datetime import time as day_time
from enum import Enum

MIN_NOISE_FLOOR_W = 0.2
DEFAULT_NOISE_FLOOR_W = 1.0  # until calibrated or estimated: a cheap sensor's error
SMOOTHING_S = 60.0
BASELINE_WINDOW_S = 48 * 3600.0
BASELINE_PERCENTILE = 5.0
DAYS_PER_MONTH = 30.44


class PortStatus(str, Enum):
    ACTIVE = "active"  # in use
    IDLE = "idle"  # drawing a little (standby), not yet for long enough to be phantom
    PHANTOM = "phantom"  # should be idle, draws above its noise floor for too long
    OFF = "off"  # nothing measurable
    NO_DATA = "no data"  # no reading recently


@dataclass(frozen=True)
class Schedule:
    """When a port is expected to be in use: per weekday (0 = Monday) a list of (start, end) local times.
    An empty schedule means "any time" (the active threshold alone decides)."""

    hours: dict[int, tuple[tuple[day_time, day_time], ...]] = field(default_factory=dict)

    @property
    def always(self) -> bool:
        return not self.hours

    def expects_use(self, at: float) -> bool:
        if self.always:
            return True
        moment = datetime.fromtimestamp(at)
        now = moment.time()
        return any(start <= now < end for start, end in self.hours.get(moment.weekday(), ()))

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """`"mon-fri 08:00-21:00; sat 10:00-17:00"` -> a schedule; empty text -> always. ValueError says why."""
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        hours: dict[int, list[tuple[day_time, day_time]]] = {}
        for part in filter(None, (p.strip() for p in text.lower().split(";"))):
            try:
                days_text, span = part.split()
                first, _, last = days_text.partition("-")
                days = range(names.index(first), names.index(last or first) + 1)
                start_text, end_text = span.split("-")
                start, end = day_time.fromisoformat(start_text), day_time.fromisoformat(end_text)
            except ValueError:
                raise ValueError(f"{part!r} is not like 'mon-fri 08:00-21:00'") from None
            if not days or end <= start:
                raise ValueError(f"{part!r}: the days or the times are the wrong way round")
            for day in days:
                hours.setdefault(day, []).append((start, end))
        return cls({day: tuple(spans) for day, spans in hours.items()})


@dataclass(frozen=True)
class PortRules:
    active_w: float = 10.0  # at or above: the port is in use
    noise_floor_w: float = DEFAULT_NOISE_FLOOR_W
    phantom_after_s: float = 15 * 60.0
    stale_after_s: float = 120.0  # no reading for this long: NO DATA
    schedule: Schedule = field(default_factory=Schedule)

    @property
    def margin_w(self) -> float:
        """How far above the floor a draw must be to count: the floor again, at least 0.5 W."""
        return max(0.5, self.noise_floor_w)

    @property
    def enter_w(self) -> float:
        return self.noise_floor_w + self.margin_w

    @property
    def leave_w(self) -> float:
        return self.noise_floor_w + self.margin_w / 2


@dataclass(frozen=True)
class PhantomEpisode:
    """A phantom load seen on a port: from when, how much (median W), for how long so far, and what it costs."""

    port: str
    started_at: float
    watts: float
    duration_s: float
    ended_at: float | None = None

    def monthly_cost(self, tariff_per_kwh: float) -> float:
        return monthly_cost(self.watts, tariff_per_kwh)


def monthly_cost(watts: float, tariff_per_kwh: float) -> float:
    """What a constant draw costs in a month at the tariff (currency per kWh)."""
    return watts / 1000 * 24 * DAYS_PER_MONTH * tariff_per_kwh


@dataclass(frozen=True)
class PortReport:
    status: PortStatus
    smoothed_w: float | None
    started: PhantomEpisode | None = None  # a phantom episode was just flagged
    ended: PhantomEpisode | None = None  # a flagged episode just ended


class PortDetector:
    """Follows one port's readings (in time order) and says its status; flags phantom episodes once each."""

    def __init__(self, port: str, rules: PortRules) -> None:
        self.port = port
        self.rules = rules
        self._window: deque[tuple[float, float]] = deque()
        self._last_at: float | None = None
        self._above_since: float | None = None  # should-be-idle draw above the floor since (hysteresis held)
        self._episode_watts: list[float] = []
        self.episode: PhantomEpisode | None = None
        self.status = PortStatus.NO_DATA
        self.smoothed_w: float | None = None

    def set_rules(self, rules: PortRules) -> None:
        self.rules = rules

    def update(self, at: float, power_w: float) -> PortReport:
        if self._last_at is not None and at - self._last_at > self.rules.stale_after_s:
            self._reset_window()  # a gap: what came before says nothing about now
        self._last_at = at
        self._window.append((at, power_w))
        while self._window and self._window[0][0] <= at - SMOOTHING_S:
            self._window.popleft()
        self.smoothed_w = statistics.median(p for _, p in self._window)
        return self._decide(at, self.smoothed_w)

    def tick(self, now: float) -> PortReport:
        """Time passes without readings: NO DATA after `stale_after_s` (an open episode ends there)."""
        if self._last_at is None or now - self._last_at <= self.rules.stale_after_s:
            return PortReport(self.status, self.smoothed_w)
        ended = self._end_episode(self._last_at)
        self._reset_window()
        self.status, self.smoothed_w = PortStatus.NO_DATA, None
        return PortReport(self.status, None, ended=ended)

    def _reset_window(self) -> None:
        self._window.clear()
        self._above_since = None

    def _decide(self, at: float, smoothed: float) -> PortReport:
        rules = self.rules
        expected = rules.schedule.expects_use(at)
        should_be_idle = not expected or smoothed < rules.active_w
        threshold = rules.leave_w if self._above_since is not None else rules.enter_w
        if should_be_idle and smoothed >= threshold:
            if self._above_since is None:
                self._above_since = at
                self._episode_watts = []
            self._episode_watts.append(smoothed)
        else:
            # In use as expected, or nothing measurable above the noise.
            ended = self._end_episode(at)
            self._above_since = None
            self.status = PortStatus.ACTIVE if smoothed >= rules.active_w else PortStatus.OFF
            return PortReport(self.status, smoothed, ended=ended)
        lasted = at - self._above_since
        if lasted < rules.phantom_after_s:
            self.status = PortStatus.ACTIVE if smoothed >= rules.active_w else PortStatus.IDLE
            return PortReport(self.status, smoothed)
        self.status = PortStatus.PHANTOM
        watts = statistics.median(self._episode_watts[-3600:])
        started = None
        if self.episode is None:
            self.episode = started = PhantomEpisode(self.port, self._above_since, watts, lasted)
        else:
            self.episode = replace(self.episode, watts=watts, duration_s=lasted)
        return PortReport(self.status, smoothed, started=started)

    def _end_episode(self, at: float) -> PhantomEpisode | None:
        if self.episode is None:
            return None
        ended = replace(self.episode, duration_s=at - self.episode.started_at, ended_at=at)
        self.episode = None
        return ended


# --- calibration and baseline ---------------------------------------------------------------------------------------


def calibrate_noise_floor(powers: Sequence[float]) -> float:
    """From readings taken with the load unplugged: mean + 3 standard deviations (at least 0.2 W)."""
    if len(powers) < 10:
        raise ValueError("calibration needs at least 10 readings with the load unplugged")
    mean = statistics.fmean(abs(p) for p in powers)
    spread = statistics.pstdev(powers)
    return max(MIN_NOISE_FLOOR_W, mean + 3 * spread)


def noise_sigma(powers: Sequence[float]) -> float:
    """The sensor's noise from successive differences (robust: the median absolute difference), whatever the level."""
    values = list(powers)  # any sequence, a deque too
    diffs = [abs(b - a) for a, b in zip(values, values[1:])]
    if not diffs:
        return 0.0
    return statistics.median(diffs) / (0.6745 * math.sqrt(2))


def estimate_noise_floor(powers: Sequence[float]) -> float:
    """Without a calibration: three times the sensor's noise, measured from successive differences of the port's
    low readings (level-independent, so a constant standby draw is not mistaken for an offset). A sensor's zero
    offset cannot be told from a standby load this way: calibrating with the load unplugged can."""
    if len(powers) < 60:
        return DEFAULT_NOISE_FLOOR_W
    return max(MIN_NOISE_FLOOR_W, 3 * noise_sigma(powers))


def percentile(values: Iterable[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * pct / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def baseline(minute_medians: Sequence[float]) -> float | None:
    """The always-on draw: the 5th percentile of the per-minute medians of the last 48 h (None without data)."""
    return percentile(minute_medians, BASELINE_PERCENTILE) if minute_medians else None


# --- rollups ----------------------------------------------------------------------------------------------------------

TIERS = {"minute": 60, "hour": 3600, "day": 86400}
MAX_GAP_S = 120.0  # energy is not counted across a longer gap between readings


def bucket_start(at: float, tier: str) -> float:
    """The start of the bucket a moment falls in: whole minutes and hours (UTC-aligned), local days."""
    if tier == "day":
        moment = datetime.fromtimestamp(at)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    size = TIERS[tier]
    return math.floor(at / size) * size


@dataclass
class Bucket:
    """min, max, sum and count of power, and energy in Wh (each reading's power over the time since the previous
    reading, capped at MAX_GAP_S), for one port and one bucket of one tier."""

    count: int = 0
    minimum: float = math.inf
    maximum: float = -math.inf
    total: float = 0.0
    energy_wh: float = 0.0

    def add(self, power_w: float, seconds: float) -> None:
        self.count += 1
        self.minimum = min(self.minimum, power_w)
        self.maximum = max(self.maximum, power_w)
        self.total += power_w
        self.energy_wh += power_w * min(max(seconds, 0.0), MAX_GAP_S) / 3600

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def merge(self, other: Bucket) -> None:
        self.count += other.count
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.total += other.total
        self.energy_wh += other.energy_wh


def merge_buckets(into: dict[tuple[str, str, float], Bucket], more: dict[tuple[str, str, float], Bucket]) -> None:
    for key, bucket in more.items():
        if key in into:
            into[key].merge(bucket)
        else:
            into[key] = bucket


def roll_up(readings: Iterable[tuple[str, float, float]], previous: dict[str, float] | None = None
            ) -> dict[tuple[str, str, float], Bucket]:
    """(port, at, power) in time order per port -> buckets per (port, tier, start). `previous` holds each port's
    last reading time (from an earlier batch) and is updated, so that energy flows across batches."""
    last = previous if previous is not None else {}
    buckets: dict[tuple[str, str, float], Bucket] = {}
    for port, at, power in readings:
        seconds = at - last[port] if port in last else 0.0
        last[port] = at
        for tier in TIERS:
            key = (port, tier, bucket_start(at, tier))
            bucket = buckets.get(key)
            if bucket is None:
                bucket = buckets[key] = Bucket()
            bucket.add(power, seconds)
    return buckets


def choose_tier(span_s: float, max_points: int = 4000) -> str:
    """Which data a graph of this span reads: raw readings up to about an hour (1 Hz), then the finest rollup that
    keeps it under `max_points` points (minutes up to ~2.8 days, hours up to ~5.5 months, days beyond)."""
    if span_s <= 3600:
        return "raw"
    for tier in ("minute", "hour"):
        if span_s / TIERS[tier] <= max_points:
            return tier
    return "day"


@dataclass(frozen=True)
class Series:
    """What a graph of a time span shows: bucket middles with mean, min and max watts, and the energy in the span."""

    tier: str
    xs: list[float]
    mean: list[float]
    low: list[float]
    high: list[float]
    kwh: float


@dataclass(frozen=True)
class NotificationInfo:
    """A notification (phantom load, a device gone quiet, overdue lockers) as screens show it."""

    id: int
    created_at: float
    kind: str
    subject: str
    title: str
    detail: str
    watts: float | None
    duration_s: float | None
    monthly_cost: float | None
    ended_at: float | None
    acknowledged_at: float | None
    acknowledged_by: str | None


@dataclass(frozen=True)
class PortRow:
    """One port as the Energy tab lists it: its live status and draw, today's energy, its always-on draw."""

    id: str
    name: str
    device: str
    status: PortStatus
    watts: float | None
    kwh_today: float
    always_on: float | None


@dataclass(frozen=True)
class PortInfo:
    """A measured port as set up (kiosk port add, the Energy tab): its device, channel and rules."""

    id: str
    device_id: str
    name: str
    channel: str | None
    active_w: float
    noise_floor_w: float | None
    phantom_after_s: float
    schedule: str

    def rules(self, estimated_floor_w: float | None = None) -> PortRules:
        floor = self.noise_floor_w if self.noise_floor_w is not None else (estimated_floor_w or
                                                                           DEFAULT_NOISE_FLOOR_W)
        return PortRules(self.active_w, floor, self.phantom_after_s, schedule=Schedule.parse(self.schedule))
