import gc

import pytest

from kiosk.services.broker.collection import NEVER, CollectionSchedule


class Fake:
    def __init__(self) -> None:
        self.now = 100.0
        self.blocks = 1000
        self.collected = 0

    def collect(self) -> int:
        self.collected += 1
        return 0


@pytest.fixture
def fake() -> Fake:
    return Fake()


@pytest.fixture
def schedule(fake: Fake):
    thresholds = gc.get_threshold()
    schedule = CollectionSchedule(young_threshold=5000, every_s=60, growth=1.25, clock=lambda: fake.now,
                                  blocks=lambda: fake.blocks, collect=fake.collect)
    schedule.install()
    yield schedule
    gc.set_threshold(*thresholds)


def test_install_turns_off_cpythons_full_collections_and_raises_the_young_threshold(schedule) -> None:
    assert gc.get_threshold() == (5000, 10, NEVER)


def test_nothing_is_collected_while_memory_stays_level(schedule, fake: Fake) -> None:
    for _ in range(59):
        fake.now += 1
        fake.blocks = 1000 + (fake.blocks % 7) * 20  # churn without growth
        assert not schedule.maybe_collect()
    assert fake.collected == 0


def test_growth_by_a_quarter_triggers_a_collection_and_sets_a_new_baseline(schedule, fake: Fake) -> None:
    fake.blocks = 1251
    assert schedule.maybe_collect()
    assert fake.collected == 1 and schedule.collections == 1
    fake.blocks = 1500  # 1.2 x the new baseline
    assert not schedule.maybe_collect()
    fake.blocks = 1600
    assert schedule.maybe_collect()


def test_a_collection_runs_at_least_every_interval(schedule, fake: Fake) -> None:
    fake.now += 59.9
    assert not schedule.maybe_collect()
    fake.now += 0.1
    assert schedule.maybe_collect()
    assert not schedule.maybe_collect()
