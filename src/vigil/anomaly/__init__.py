"""Pure anomaly scorers: no I/O, no clock, no database — plain ``learn``/``score`` objects.

Two scorers, one result type:

``EventScorer`` (``rare_time`` / ``novel_object``)
    Learns per source how often each label occurs in each local hour-of-week and scores an
    event ``(source, label, weekday 0=Mon..6, hour, confidence)``. The expected count per
    week in that slot is smoothed hierarchically (hour-of-week → hour-of-day → source), the
    score is ``exp(-rate)`` damped for young sources and unsure detections, and a label never
    seen at the source is a ``novel_object``. ``EventScorer.from_hourly_counts(rows)`` builds
    the state from stored ``(source_id, label, local_date, local_hour, event_count)`` rows.

``VolumeScorer`` / ``VolumeMonitor`` (``spike`` / ``silence``)
    Learn the mean and variance of each hour-of-week's count across weeks and judge closed
    hours with negative-binomial tail probabilities (Poisson when not over-dispersed):
    upper tail for spikes, lower tail over a run of quiet hours for silences. The monitor
    keeps one series per (source, label) and reports sources that fall silent altogether.

``StreamDetector`` (what the service runs)
    Both scorers over a stream of committed events in Arrow chunks (vectorised, over a
    million events a second): ``prime`` from stored hourly counts, ``process`` each chunk,
    ``advance(now)`` to close hours by the wall clock; flagged findings come back as
    :class:`Detection` records. ``vigil.anomaly.evaluate`` scores it against generated
    ground truth.

Alert rules (``AlertRule``, ``AlertGate``, ``rule_from_dict``) decide which anomalies are
sent; the sinks live in ``vigil.anomaly.webhook`` and ``vigil.anomaly.mqtt_sink``.

Every ``score`` returns an :class:`AnomalyResult` — ``type``, ``score`` in [0, 1],
``severity`` (``None``, ``"low"``, ``"medium"``, ``"high"``; cut-offs in the frozen config),
a one-line ``explanation`` and the ``components`` behind it. ``observe`` scores *before*
learning, and a flagged observation is not learned unless ``learn_from_anomalies=True``, so
an anomaly does not teach the baseline that it is normal.

Usage::

    from datetime import date
    from vigil.anomaly import EventScorer, VolumeScorer

    scorer = EventScorer.from_hourly_counts(rows)  # rows from the hourly_counts table
    result = scorer.score("backyard", "person", weekday=1, hour=3, confidence=0.9)
    if result.at_least("medium"):
        print(result.explanation)
        # person at 03:00 on Tuesday; this camera sees person at that hour 0.2 times a week

    result = scorer.observe("backyard", "person", 0, 3, 0.9, local_date=date(2024, 3, 5))

    volume = VolumeScorer(name="backyard/person")
    for r in volume.score_stream(hourly):  # (datetime or hour index, count), in order
        if r.severity is not None:
            print(r.type, r.severity, r.explanation)

``benchmark_scoring(n)`` returns the event scorer's throughput in events per second.
"""

from vigil.anomaly.bench import benchmark_scoring
from vigil.anomaly.delivery import DeliveryAttempt, RetryPolicy
from vigil.anomaly.detector import Detection, DetectorConfig, StreamDetector
from vigil.anomaly.distributions import nb_cdf, nb_params, nb_sf, poisson_cdf, poisson_sf
from vigil.anomaly.events import EventScorer, EventScorerConfig
from vigil.anomaly.result import AnomalyResult, AnomalyType, Severity, SeverityThresholds
from vigil.anomaly.rules import AlertGate, AlertRule, RuleError, rule_from_dict, rule_to_dict
from vigil.anomaly.volume import VolumeConfig, VolumeMonitor, VolumeScorer, hour_index, surprise

__all__ = [
    "AlertGate",
    "AlertRule",
    "AnomalyResult",
    "AnomalyType",
    "DeliveryAttempt",
    "Detection",
    "DetectorConfig",
    "EventScorer",
    "EventScorerConfig",
    "RetryPolicy",
    "RuleError",
    "Severity",
    "SeverityThresholds",
    "StreamDetector",
    "VolumeConfig",
    "VolumeMonitor",
    "VolumeScorer",
    "benchmark_scoring",
    "hour_index",
    "nb_cdf",
    "nb_params",
    "nb_sf",
    "poisson_cdf",
    "poisson_sf",
    "rule_from_dict",
    "rule_to_dict",
    "surprise",
]
