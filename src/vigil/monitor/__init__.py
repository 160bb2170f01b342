"""Anomaly monitoring at the edge of the service: the detector that follows the event log,
the alert planner and the dispatcher that delivers alerts to their sinks."""
