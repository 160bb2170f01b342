"""Starting and stopping anomaly monitoring with the service (or a CLI command)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from vigil.anomaly.detector import DetectorConfig
from vigil.anomaly.events import EventScorerConfig
from vigil.anomaly.result import SeverityThresholds
from vigil.anomaly.volume import VolumeConfig
from vigil.config import Settings, parse_thresholds
from vigil.monitor.dispatch import AlertDispatcher, Sink
from vigil.monitor.runner import CycleReport, DetectionRunner, RunnerThread, utc_now
from vigil.store import Store, is_postgres_url

WriteFn = Callable[[Callable[[Store], Any]], Any]
PG_SETTLE_SECONDS = 30.0
"""With several PostgreSQL workers a missing batch number may still commit; wait this long."""


def configured_sinks(settings: Settings) -> dict[str, Sink]:
    """The alert sinks the settings configure, by name (``webhook``, ``mqtt``)."""
    sinks: dict[str, Sink] = {}
    if settings.alert_webhook_url:
        from vigil.anomaly.webhook import WebhookSink

        sinks["webhook"] = WebhookSink("webhook", settings.alert_webhook_url,
                                       secret=settings.alert_webhook_secret)
    if settings.alert_mqtt_url:
        from vigil.anomaly.mqtt_sink import MqttSink

        sinks["mqtt"] = MqttSink("mqtt", settings.alert_mqtt_url,
                                 topic=settings.alert_mqtt_topic)
    return sinks


def detector_config(settings: Settings) -> DetectorConfig:
    """The detector's tuning from the settings: readiness as for baselines, thresholds."""
    events, volume = EventScorerConfig(), VolumeConfig()
    if settings.anomaly_event_thresholds:
        events = replace(events, thresholds=SeverityThresholds(
            *parse_thresholds(settings.anomaly_event_thresholds)))
    if settings.anomaly_volume_thresholds:
        volume = replace(volume, thresholds=SeverityThresholds(
            *parse_thresholds(settings.anomaly_volume_thresholds)))
    return DetectorConfig(events=events, volume=volume,
                          ready_min_days=settings.baseline_min_days,
                          ready_min_events=settings.baseline_min_events)


def detection_runner(settings: Settings, store: Store, write: WriteFn | None = None,
                     sinks: tuple[str, ...] = ()) -> DetectionRunner:
    """A detector over ``store`` with the settings' window, readiness and thresholds."""
    settle = PG_SETTLE_SECONDS if is_postgres_url(store.url) else 0.0
    return DetectionRunner(store, write=write, config=detector_config(settings),
                           window_days=7 * settings.baseline_window_weeks,
                           settle_seconds=settle, sinks=sinks)


@dataclass
class Monitoring:
    """The running detector and alert dispatcher of one service process."""

    detector: RunnerThread
    dispatcher: AlertDispatcher

    def notify(self) -> None:
        """Data was committed: the detector looks soon."""
        self.detector.notify()

    def stop(self, timeout: float) -> None:
        self.detector.stop(timeout)
        self.dispatcher.stop(timeout)


def start_monitoring(settings: Settings, store: Store, write: WriteFn) -> Monitoring:
    """Start the detector and the dispatcher threads."""
    sinks = configured_sinks(settings)
    dispatcher = AlertDispatcher(store, sinks, clock=utc_now, write=write)
    runner = detection_runner(settings, store, write, tuple(sinks))

    def after_cycle(report: CycleReport) -> None:
        if report.alerts:
            dispatcher.notify()

    detector = RunnerThread(runner, tick_seconds=settings.detector_tick_seconds,
                            on_cycle=after_cycle)
    detector.start()
    dispatcher.start()
    detector.notify()
    return Monitoring(detector=detector, dispatcher=dispatcher)
