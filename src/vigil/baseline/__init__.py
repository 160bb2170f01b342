"""Activity baselines: what is normal for each source, as views over its hourly counts.

:func:`compute_baseline` is pure (hourly-count rows in, the baseline out);
:func:`baseline_for` and :func:`all_baselines` read the rows from a store.
"""

from vigil.baseline.compute import (
    BaselineConfig,
    HourlyCounts,
    HourlyRow,
    SourceHistory,
    compute_baseline,
)
from vigil.baseline.service import all_baselines, baseline_config, baseline_for

__all__ = ["BaselineConfig", "HourlyCounts", "HourlyRow", "SourceHistory", "all_baselines",
           "baseline_config", "baseline_for", "compute_baseline"]
