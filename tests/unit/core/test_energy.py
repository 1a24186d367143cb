"""Energy rules with injected time and recorded traces (tests/fixtures/energy, written by make_traces.py)."""

import gzip
import math
from datetime import datetime
from datetime import time as day_time
from pathlib import Path

import pytest

from kiosk.core.energy import (
    Bucket,
    PortDetector,
    PortRules,
    PortStatus,
    Schedule,
    baseline,
    bucket_start,
    calibrate_noise_floor,
    estimate_noise_floor,
    monthly_cost,
    noise_sigma,
    roll_up,
)

TRACES = Path(__file__).resolve().parents[2] / "fixtures" / "energy"
START = datetime(2026, 11, 2, 9, 0).timestamp()  # a Monday


def trace(name: str) -> list[tuple[float, float]]:
    with gzip.open(TRACES / f"{name}.csv.gz", "rt", encoding="utf-8") as handle:
        next(handle)
        return [(START + float(at), float(power)) for at, power in (line.split(",") for line in handle)]


def run(samples: list[tuple[float, float]], rules: PortRules) -> tuple[PortDetector, list, list, list]:
    detector = PortDetector("p1", rules)
    started, ended, statuses = [], [], []
    for at, power in samples:
        report = detector.update(at, power)
        statuses.append(report.status)
        if report.started:
            started.append(report.started)
        if report.ended:
            ended.append(report.ended)
    return detector, started, ended, statuses


def test_an_estimated_floor_still_sees_a_constant_standby_load() -> None:
    standby = [p for _, p in trace("tv_standby")[3700:]]  # only ever in standby: never a reading "off"
    floor = estimate_noise_floor(standby)
    assert floor < 2.0
    _, started, _, _ = run(trace("tv_standby"), PortRules(noise_floor_w=floor, phantom_after_s=900))
    assert len(started) == 1


def test_a_quiet_noisy_port_with_spikes_never_raises_an_alert() -> None:
    samples = trace("quiet_noisy")
    floor = estimate_noise_floor([p for _, p in samples[:3600]])  # its first hour, as the hub would learn it
    _, started, _, statuses = run(samples, PortRules(noise_floor_w=floor))
    assert started == []
    assert PortStatus.PHANTOM not in statuses and statuses[-1] is PortStatus.OFF


def test_a_tv_left_in_standby_raises_one_alert_with_its_watts_and_cost() -> None:
    samples = trace("tv_standby")
    detector, started, ended, statuses = run(samples, PortRules(noise_floor_w=1.0, phantom_after_s=900))
    assert statuses[1800] is PortStatus.ACTIVE
    assert len(started) == 1 and ended == []
    episode = started[0]
    assert 3600 <= episode.started_at - START <= 3600 + 90  # the median needs half a minute to follow the drop
    assert episode.duration_s == pytest.approx(900, abs=2)
    assert episode.watts == pytest.approx(4.0, abs=0.3)
    assert detector.status is PortStatus.PHANTOM
    assert detector.episode.duration_s == pytest.approx(2 * 3600 - (episode.started_at - START - 3600), abs=120)
    assert episode.monthly_cost(0.20) == pytest.approx(4.0 / 1000 * 24 * 30.44 * 0.20, rel=0.1)


def test_a_draw_hovering_at_the_threshold_is_one_episode_not_a_flapping_alert() -> None:
    samples = trace("edge_hover")
    _, started, ended, statuses = run(samples, PortRules(noise_floor_w=1.0, phantom_after_s=900))
    assert len(started) == 1 and ended == []
    changes = sum(1 for a, b in zip(statuses, statuses[1:]) if a is not b)
    assert changes <= 3  # off -> idle -> phantom at most


def test_a_very_noisy_sensor_once_calibrated_stays_quiet() -> None:
    samples = trace("very_noisy_off")
    floor = calibrate_noise_floor([p for _, p in samples[:600]])  # ten minutes with the load unplugged
    assert floor > 6  # an offset of 2.5 W and sigma 2 W: the floor must say so
    _, started, _, _ = run(samples, PortRules(noise_floor_w=floor))
    assert started == []


def test_an_uncalibrated_very_noisy_sensor_would_raise_false_alerts() -> None:
    """Why the floor matters: the same trace with the default 1 W floor cries wolf (this test guards the fixture)."""
    _, started, _, _ = run(trace("very_noisy_off"), PortRules(noise_floor_w=1.0))
    assert started


def test_outside_its_schedule_a_lamp_left_on_is_phantom_inside_it_is_active() -> None:
    rules = PortRules(noise_floor_w=1.0, phantom_after_s=600,
                      schedule=Schedule.parse("mon-fri 08:00-21:00"))
    evening = datetime(2026, 11, 2, 20, 50).timestamp()
    detector = PortDetector("lamp", rules)
    statuses = [detector.update(evening + t, 60.0).status for t in range(0, 40 * 60, 5)]
    assert statuses[0] is PortStatus.ACTIVE  # 20:50, in its hours
    assert detector.status is PortStatus.PHANTOM and detector.episode.watts == pytest.approx(60.0)
    assert detector.episode.started_at == pytest.approx(datetime(2026, 11, 2, 21, 0).timestamp(), abs=5)


def test_a_gap_in_readings_means_no_data_and_ends_an_episode() -> None:
    detector = PortDetector("p", PortRules(noise_floor_w=1.0, phantom_after_s=60, stale_after_s=120))
    for t in range(0, 300, 1):
        detector.update(START + t, 5.0)
    assert detector.status is PortStatus.PHANTOM
    assert detector.tick(START + 350).status is PortStatus.PHANTOM  # 51 s since the last reading: still fine
    report = detector.tick(START + 500)
    assert report.status is PortStatus.NO_DATA and report.ended is not None
    assert report.ended.ended_at == START + 299
    assert detector.update(START + 600, 5.0).status is PortStatus.IDLE  # starts afresh: not phantom at once


def test_schedules_parse_or_say_why() -> None:
    schedule = Schedule.parse("mon-fri 08:00-21:00; sat 10:00-17:00")
    assert schedule.hours[0] == ((day_time(8), day_time(21)),) and 6 not in schedule.hours
    assert schedule.expects_use(datetime(2026, 11, 7, 12, 0).timestamp())  # Saturday noon
    assert not schedule.expects_use(datetime(2026, 11, 8, 12, 0).timestamp())  # Sunday
    assert Schedule.parse("").always
    for bad in ("weekdays 8-9", "mon-fri 21:00-08:00", "fri-mon 08:00-09:00"):
        with pytest.raises(ValueError):
            Schedule.parse(bad)


def test_noise_and_baseline_statistics() -> None:
    import random

    rng = random.Random(1)
    noisy = [5.0 + rng.gauss(0, 0.5) for _ in range(5000)]
    assert noise_sigma(noisy) == pytest.approx(0.5, rel=0.1)  # the level does not matter, only the noise
    assert estimate_noise_floor(noisy) == pytest.approx(3 * 0.5, rel=0.15)  # a 5 W standby is not an offset
    assert estimate_noise_floor(noisy[:10]) == 1.0  # too little to say: the default
    assert baseline([3.0] * 95 + [100.0] * 5) == 3.0 and baseline([]) is None
    with pytest.raises(ValueError):
        calibrate_noise_floor([0.1] * 5)
    assert monthly_cost(10, 0.25) == pytest.approx(10 / 1000 * 24 * 30.44 * 0.25)


def test_rollups_count_energy_across_batches_and_buckets() -> None:
    at = datetime(2026, 11, 2, 9, 59, 0).timestamp()
    last: dict[str, float] = {}
    first = roll_up([("p", at + t, 100.0) for t in range(0, 60)], last)  # 09:59:00-09:59:59
    second = roll_up([("p", at + t, 100.0) for t in range(60, 120)], last)  # 10:00:00-10:00:59
    minute = first[("p", "minute", bucket_start(at, "minute"))]
    assert minute.count == 60 and minute.energy_wh == pytest.approx(100 * 59 / 3600)
    next_minute = second[("p", "minute", bucket_start(at + 60, "minute"))]
    assert next_minute.energy_wh == pytest.approx(100 * 60 / 3600)  # the first reading counts the gap before it
    day = bucket_start(at, "day")
    assert day == datetime(2026, 11, 2).timestamp()
    total = first[("p", "day", day)].energy_wh + second[("p", "day", day)].energy_wh
    assert total == pytest.approx(100 * 119 / 3600)
    gap = Bucket()
    gap.add(100.0, 3600)  # a reading after an hour's silence: the gap is not counted as an hour of 100 W
    assert gap.energy_wh == pytest.approx(100 * 120 / 3600) and gap.mean == 100 and not math.isinf(gap.minimum)
