"""Configuration of the synthetic generator: cameras and run parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from vigil.synth.profiles import LABELS, PROFILES

RARE_TIME, NOVEL_OBJECT, SPIKE, SILENCE = "rare_time", "novel_object", "spike", "silence"
ANOMALY_TYPES: tuple[str, ...] = (RARE_TIME, NOVEL_OBJECT, SPIKE, SILENCE)
"""Anomaly types the generator can inject, in the order it plans them."""


@dataclass(frozen=True)
class CameraSpec:
    """One synthetic camera: where it is, what it sees and how busy it is.

    ``label_mix`` gives relative weights of detection labels; ``profile`` names a daily and
    weekly rhythm in :data:`vigil.synth.profiles.PROFILES` (``home``, ``shop``, ``yard``,
    ``garage``). ``pool_ratio`` sizes the visitor pool relative to the number of visits
    (small = few people who come back often).
    """

    camera_id: str
    timezone: str
    zone: str
    profile: str
    label_mix: tuple[tuple[str, float], ...]
    detections_per_day: float
    visits_per_day: float
    model_id: str = "yolov8n"
    pool_ratio: float = 0.4
    fps: int = 5

    def __post_init__(self) -> None:
        if not self.camera_id:
            raise ValueError("camera_id must not be empty")
        ZoneInfo(self.timezone)  # raises for an unknown zone
        if self.profile not in PROFILES:
            raise ValueError(f"unknown profile {self.profile!r}; known: {sorted(PROFILES)}")
        unknown = {label for label, _ in self.label_mix} - set(LABELS)
        if unknown:
            raise ValueError(f"unknown labels {sorted(unknown)}; known: {list(LABELS)}")
        if self.detections_per_day < 0 or self.visits_per_day < 0:
            raise ValueError("rates must be >= 0")
        if self.detections_per_day > 0 and not any(w > 0 for _, w in self.label_mix):
            raise ValueError("label_mix needs a positive weight")
        if not 0 < self.pool_ratio <= 1 or self.fps < 1:
            raise ValueError("pool_ratio must be in (0, 1] and fps >= 1")


DEFAULT_CAMERAS: tuple[CameraSpec, ...] = (
    CameraSpec(
        camera_id="front_door",
        timezone="America/New_York",
        zone="entrance",
        profile="home",
        label_mix=(("person", 0.55), ("vehicle", 0.2), ("package", 0.15), ("animal", 0.1)),
        detections_per_day=150.0,
        visits_per_day=12.0,
        pool_ratio=0.15,
    ),
    CameraSpec(
        camera_id="backyard",
        timezone="Europe/Berlin",
        zone="garden",
        profile="yard",
        label_mix=(("person", 0.45), ("animal", 0.5), ("vehicle", 0.05)),
        detections_per_day=60.0,
        visits_per_day=4.0,
        model_id="yolov8s",
        pool_ratio=0.2,
    ),
    CameraSpec(
        camera_id="shop_entrance",
        timezone="Europe/London",
        zone="storefront",
        profile="shop",
        label_mix=(("person", 0.8), ("vehicle", 0.1), ("package", 0.07), ("animal", 0.03)),
        detections_per_day=600.0,
        visits_per_day=180.0,
        pool_ratio=0.5,
        fps=10,
    ),
    CameraSpec(
        camera_id="garage",
        timezone="Australia/Sydney",
        zone="driveway",
        profile="garage",
        label_mix=(("vehicle", 0.6), ("person", 0.3), ("animal", 0.1)),
        detections_per_day=80.0,
        visits_per_day=6.0,
        pool_ratio=0.2,
    ),
)


@dataclass(frozen=True)
class SynthConfig:
    """What to generate: ``days`` local days per camera from ``start``.

    ``rows`` (when given) scales the rates so the table has exactly that many rows.
    ``bad_fraction`` of rows get one defect each; ``incomplete_fraction`` of visits lack
    their exit (most) or their entry.

    ``anomalies`` names types of :data:`ANOMALY_TYPES` to inject, ``anomaly_count`` of each,
    none in the first ``anomaly_warmup_days`` days (see :mod:`vigil.synth.anomalies`).
    Injection adds and removes rows after ``rows`` has been honoured. The anomaly fields are
    left out of ``repr`` so that event ids of configs without anomalies never change.
    """

    seed: int = 7
    start: date = date(2026, 3, 22)
    days: int = 14
    rows: int | None = None
    cameras: tuple[CameraSpec, ...] = field(default=DEFAULT_CAMERAS)
    bad_fraction: float = 0.0
    incomplete_fraction: float = 0.04
    anomalies: tuple[str, ...] = field(default=(), repr=False)
    anomaly_count: int = field(default=1, repr=False)
    anomaly_warmup_days: int = field(default=14, repr=False)

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.rows is not None and self.rows < 0:
            raise ValueError("rows must be >= 0")
        if not self.cameras:
            raise ValueError("at least one camera is needed")
        ids = [c.camera_id for c in self.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("camera ids must be unique")
        for name in ("bad_fraction", "incomplete_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]")
        self._check_anomalies()

    def _check_anomalies(self) -> None:
        unknown = [kind for kind in self.anomalies if kind not in ANOMALY_TYPES]
        if unknown:
            raise ValueError(f"unknown anomaly types {unknown}; known: {list(ANOMALY_TYPES)}")
        ordered = tuple(kind for kind in ANOMALY_TYPES if kind in self.anomalies)
        object.__setattr__(self, "anomalies", ordered)
        if self.anomaly_count < 1 or self.anomaly_warmup_days < 0:
            raise ValueError("anomaly_count must be >= 1 and anomaly_warmup_days >= 0")
        if self.anomalies and self.days <= self.anomaly_warmup_days + 1:
            raise ValueError(
                f"anomalies need days > anomaly_warmup_days + 1 "
                f"(days={self.days}, anomaly_warmup_days={self.anomaly_warmup_days})"
            )
