"""Realistic, deterministic synthetic camera events for demos, tests and benchmarks.

>>> table = generate_events(SynthConfig(rows=1000))
>>> truth = ground_truth(table, SynthConfig(rows=1000))
"""

from vigil.synth.config import ANOMALY_TYPES, DEFAULT_CAMERAS, CameraSpec, SynthConfig
from vigil.synth.defects import REASONS
from vigil.synth.generator import generate_events
from vigil.synth.profiles import NOVEL_LABELS, PROFILES
from vigil.synth.table import SCHEMA
from vigil.synth.truth import ground_truth
from vigil.synth.writers import write_dataset, write_ground_truth

__all__ = [
    "ANOMALY_TYPES",
    "DEFAULT_CAMERAS",
    "NOVEL_LABELS",
    "PROFILES",
    "REASONS",
    "SCHEMA",
    "CameraSpec",
    "SynthConfig",
    "generate_events",
    "ground_truth",
    "write_dataset",
    "write_ground_truth",
]
