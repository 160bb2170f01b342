"""Trust in the pattern detectors, on generated homes (:mod:`vigil.synth.home`).

Every home is stored in a real DuckDB file and read back day by day, as the daily rollup job
reads it. Three promises are checked for every registered detector:

- the incremental path (daily summaries, stored in and read back from the SQL aggregate
  store, then ``detect``) finds the same patterns as the direct batch over the raw events
  of the window (``detect_raw``): same pattern ids, confidences within 0.05;
- the planted routines are found: recall and precision of at least 0.9 over all detectors,
  matching type, entities and key numbers (:mod:`vigil.synth.home_score`);
- pure noise yields no pattern at all.

A 30-day window ends on the last generated day; the seasonal detector reads 90 days.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.patterns.base import DaySummary, DetectOptions, Pattern, PatternDetector
from vigil.patterns.base import summary_detector_name as stored_name
from vigil.patterns.registry import detectors, summaries_from_records, summary_records
from vigil.rollup import SqlAggregateStore
from vigil.store import Store, open_store
from vigil.synth.home import Home, HomeConfig, generate_home, insert_home, noise_config
from vigil.synth.home_score import Score, score

OPTIONS = DetectOptions()
CONFIDENCE_TOLERANCE = 0.05
MIN_RECALL = MIN_PRECISION = 0.9
WRITTEN_AT = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
LONG_WINDOW = "seasonal"
"""The detector that reads 90 days (the others read ``OPTIONS.window_days``)."""
DETECTOR_NAMES = [d.name for d in detectors()]
SEEDS = (1, 2, 3)
"""Recall and precision are pooled over these seeds (the first also serves the rest)."""


@dataclass(frozen=True)
class StoredHome:
    """A generated home in a DuckDB store: its days' events and its summaries, stored."""

    home: Home
    store: Store
    days: dict[dt.date, pa.Table]
    window: pa.Table
    """Every stored event of the generated days (the direct batch's input)."""

    @property
    def end(self) -> dt.date:
        return self.home.config.end

    def stored_summaries(self, detector: PatternDetector) -> list[DaySummary]:
        """The detector's summary of every day, written to and read back from the SQL
        aggregate store."""
        aggregates = SqlAggregateStore(self.store, clock=lambda: WRITTEN_AT)
        records = [r for day, events in self.days.items()
                   for r in summary_records(detector, day, detector.summarize(day, events))]
        aggregates.write_batch(records)
        start = self.home.config.start
        return summaries_from_records(aggregates.query(start, self.end,
                                                       detector=stored_name(detector.name)))

    def incremental(self, detector: PatternDetector) -> list[Pattern]:
        """Patterns from the stored daily summaries."""
        return detector.detect(self.stored_summaries(detector), self.end, OPTIONS)

    def direct(self, detector: PatternDetector) -> list[Pattern]:
        """Patterns from one batch over the raw events."""
        return detector.detect_raw(self.window, self.end, OPTIONS)


def _stored(path: Path, config: HomeConfig) -> StoredHome:
    home = generate_home(config)
    store = open_store(str(path), default_timezone=config.timezone)
    insert_home(store, home)
    days = [config.start + dt.timedelta(days=n) for n in range(config.days)]
    return StoredHome(home, store, {day: store.events_of_local_day(day) for day in days},
                      store.events_of_local_days(config.start, config.end))


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, StoredHome]]:
    """The planted home over 30 and 90 days for each of :data:`SEEDS` (``planted``,
    ``planted_long``, then ``…_<seed>`` for the other seeds), and pure noise over 30 and 90
    days."""
    folder = tmp_path_factory.mktemp("homes")
    configs = {"noise": noise_config(days=30, seed=1),
               "noise_long": noise_config(days=90, seed=2)}
    for seed in SEEDS:
        suffix = "" if seed == SEEDS[0] else f"_{seed}"
        configs[f"planted{suffix}"] = HomeConfig(days=30, seed=seed)
        configs[f"planted_long{suffix}"] = HomeConfig(days=90, seed=seed)
    stored = {name: _stored(folder / f"{name}.duckdb", config)
              for name, config in configs.items()}
    yield stored
    for item in stored.values():
        item.store.close()


def _home_for(homes: dict[str, StoredHome], name: str, kind: str = "planted",
              seed: int = 1) -> StoredHome:
    suffix = "" if seed == SEEDS[0] else f"_{seed}"
    return homes[f"{kind}_long{suffix}" if name == LONG_WINDOW else f"{kind}{suffix}"]


def _detector(name: str) -> PatternDetector:
    return next(d for d in detectors() if d.name == name)


def _confidences(patterns: list[Pattern]) -> dict[str, float]:
    return {p.pattern_id: p.confidence for p in patterns}


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_stored_summaries_give_the_patterns_of_the_direct_batch(
        homes: dict[str, StoredHome], name: str) -> None:
    detector = _detector(name)
    data = _home_for(homes, name)
    incremental = _confidences(data.incremental(detector))
    direct = _confidences(data.direct(detector))
    assert incremental, f"{name} found nothing in the planted home: the comparison is empty"
    assert sorted(incremental) == sorted(direct)
    far = {pid: (incremental[pid], direct[pid]) for pid in incremental
           if abs(incremental[pid] - direct[pid]) > CONFIDENCE_TOLERANCE}
    assert far == {}


def _scores(homes: dict[str, StoredHome]) -> dict[str, Score]:
    """Per detector, recall and precision pooled over the seeds' homes."""
    found: dict[str, Score] = {}
    for detector in detectors():
        parts = []
        for seed in SEEDS:
            data = _home_for(homes, detector.name, seed=seed)
            expected = [e for e in data.home.truth if e.type == detector.name]
            parts.append(score(expected, data.incremental(detector)))
        found[detector.name] = Score(
            required=sum(p.required for p in parts), found=sum(p.found for p in parts),
            recalled=sum(p.recalled for p in parts), correct=sum(p.correct for p in parts),
            missed=tuple(m for p in parts for m in p.missed),
            false=tuple(f for p in parts for f in p.false))
    return found


def _report(scores: dict[str, Score]) -> str:
    lines = []
    for name, s in scores.items():
        lines.append(f"{name}: recall {s.recalled}/{s.required}, precision "
                     f"{s.correct}/{s.found}")
        lines += [f"  missed {e.type} {e.entities} {e.variant} {dict(e.numbers)}"
                  for e in s.missed]
        lines += [f"  false {p.pattern_id} conf {p.confidence} {p.description}"
                  for p in s.false]
    return "\n".join(lines)


def test_planted_routines_are_found_with_high_recall_and_precision(
        homes: dict[str, StoredHome]) -> None:
    scores = _scores(homes)
    required = sum(s.required for s in scores.values())
    recall = sum(s.recalled for s in scores.values()) / required
    precision = sum(s.correct for s in scores.values()) / sum(s.found for s in scores.values())
    assert required >= 20 * len(SEEDS), "the home should plant something for every detector"
    assert all(s.required for s in scores.values()), _report(scores)
    assert recall >= MIN_RECALL, _report(scores)
    assert precision >= MIN_PRECISION, _report(scores)


def test_every_detector_finds_its_planted_routines_and_nothing_else(
        homes: dict[str, StoredHome]) -> None:
    scores = _scores(homes)
    weak = {name: (round(s.recall, 3), round(s.precision, 3)) for name, s in scores.items()
            if s.recall < MIN_RECALL or s.precision < MIN_PRECISION}
    assert weak == {}, _report(scores)


@pytest.mark.parametrize("name", DETECTOR_NAMES)
def test_pure_noise_yields_no_pattern(homes: dict[str, StoredHome], name: str) -> None:
    detector = _detector(name)
    data = _home_for(homes, name, "noise")
    assert data.window.num_rows > 1000
    assert [p.pattern_id for p in data.incremental(detector)] == []
    assert [p.pattern_id for p in data.direct(detector)] == []


def test_noise_home_has_no_ground_truth(homes: dict[str, StoredHome]) -> None:
    assert homes["noise"].home.truth == ()
    assert homes["noise_long"].home.truth == ()


ZONES = ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu")
"""Zones with DST (Lord Howe shifts by 30 minutes) and without (Kathmandu is UTC+5:45)."""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), days=st.integers(8, 21), zone=st.sampled_from(ZONES),
       start=st.dates(dt.date(2026, 3, 20), dt.date(2026, 4, 10)),
       noise=st.tuples(st.integers(0, 12), st.floats(0.5, 8.0)),
       window=st.integers(5, 21), co_window_s=st.integers(60, 600),
       min_days=st.integers(2, 6), min_confidence=st.floats(0.3, 0.7))
def test_summaries_equal_the_direct_batch_for_random_homes_and_options(
        seed: int, days: int, zone: str, start: dt.date, noise: tuple[int, float],
        window: int, co_window_s: int, min_days: int, min_confidence: float) -> None:
    config = HomeConfig(start=start, days=days, timezone=zone, seed=seed,
                        noise_entities=noise[0], noise_per_day=noise[1])
    options = DetectOptions(window_days=window, co_window_s=co_window_s, min_days=min_days,
                            min_confidence=min_confidence)
    with tempfile.TemporaryDirectory() as folder:
        data = _stored(Path(folder) / "home.duckdb", config)
        try:
            for detector in detectors():
                incremental = detector.detect(data.stored_summaries(detector), data.end, options)
                direct = detector.detect_raw(data.window, data.end, options)
                a, b = _confidences(incremental), _confidences(direct)
                assert sorted(a) == sorted(b), detector.name
                assert all(abs(a[k] - b[k]) <= CONFIDENCE_TOLERANCE for k in a), detector.name
        finally:
            data.store.close()
