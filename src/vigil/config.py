"""Settings from the environment (``VIGIL_*``) and an optional ``vigil.toml``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vigil.zones import check_timezone as check_timezone


def parse_thresholds(text: str) -> tuple[float, float, float]:
    """``"low,medium,high"`` score cut-offs, each in (0, 1] and not decreasing."""
    try:
        low, medium, high = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise ValueError(f"expected three numbers low,medium,high, got {text!r}") from exc
    if not 0.0 < low <= medium <= high <= 1.0:
        raise ValueError(f"need 0 < low <= medium <= high <= 1, got {text!r}")
    return low, medium, high


class Settings(BaseSettings):
    """Runtime settings; every field can be set as ``VIGIL_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="VIGIL_", extra="ignore")

    db: str = Field("./vigil.duckdb", description="DuckDB path or database URL")
    default_timezone: str = Field("UTC", description="zone of sources with no setting")
    host: str = "127.0.0.1"
    port: int = 8000
    upload_dir: str = Field("./vigil-uploads", description="where uploads are spooled")
    csv_block_bytes: int = Field(8 * 1024 * 1024, ge=4096, description="CSV read block")
    duckdb_memory_limit: str = Field("50%", description="DuckDB memory_limit: a size ('4GB') "
                                     "or a share of RAM ('50%'); analytics over about 10M "
                                     "stored events need some 2GB")
    group_commit_max: int = Field(64, ge=1, description="writes merged into one commit")
    baseline_window_weeks: int = Field(8, ge=1, le=520, description="weeks a baseline covers")
    baseline_half_life_days: float | None = Field(
        None, gt=0, description="weigh older hours down with this half-life (default: none)")
    baseline_min_days: int = Field(7, ge=0, description="history before a baseline is ready")
    baseline_min_events: int = Field(50, ge=0, description="events before it is ready")
    session_max_hours: float = Field(4.0, gt=0, description="longest visit: an entry with no "
                                     "exit this long after it is closed as timed out")
    redis_url: str | None = Field(None, description="Redis URL: the analytics cache is "
                                  "shared between workers (default: in-process cache)")
    cache_ttl_seconds: float = Field(300.0, gt=0, description="lifetime of a cached result")
    mqtt_url: str | None = Field(None, description="MQTT broker to ingest from, "
                                 "mqtt://host:port (default: no MQTT)")
    mqtt_frigate_topic: str = Field("frigate/events", description="Frigate's events topic")
    mqtt_events_topic: str = Field("vigil/events", description="topic of Vigil event JSON")
    mqtt_share_group: str = Field("vigil", description="MQTT 5 shared-subscription group")
    mqtt_client_id: str | None = Field(None, description="MQTT client id (default: derived "
                                       "from the host and process)")
    detect_anomalies: bool = Field(True, description="score new events and store anomalies")
    detector_tick_seconds: float = Field(60.0, gt=0, description="how often hours are closed "
                                         "by the wall clock (silences of stopped sources)")
    anomaly_event_thresholds: str | None = Field(
        None, description="low,medium,high score cut-offs of rare_time/novel_object "
        "(default 0.25,0.65,0.85)")
    anomaly_volume_thresholds: str | None = Field(
        None, description="low,medium,high score cut-offs of spike/silence "
        "(default 0.4,0.47,0.7)")
    alert_webhook_url: str | None = Field(None, description="POST alerts here (sink 'webhook')")
    alert_webhook_secret: str | None = Field(None, description="HMAC secret signing webhooks")
    alert_mqtt_url: str | None = Field(None, description="publish alerts to this broker, "
                                       "mqtt://host:port (sink 'mqtt')")
    alert_mqtt_topic: str = Field("vigil/alerts/{source_id}", description="alert topic "
                                  "template ({source_id}, {type}, {severity})")
    aggregates: str = Field("sql", description="aggregate store: 'sql' (the main store) or "
                            "influxdb://host:port/db[?token=…] (VIGIL_AGGREGATES)")
    retention_raw_days: int = Field(30, ge=0, description="days raw events are kept "
                                    "(0 = forever; never before their day is rolled up)")
    retention_hourly_days: int = Field(400, ge=0, description="days hourly counts are kept "
                                       "(0 = forever; at least the baseline window)")
    retention_daily_days: int = Field(90, ge=0, description="days daily detector summaries "
                                      "(daily aggregates) are kept (0 = forever)")
    retention_weekly_days: int = Field(1096, ge=0, description="days weekly aggregates are "
                                       "kept (0 = forever)")
    retention_monthly_days: int = Field(0, ge=0, description="days monthly aggregates are "
                                        "kept (0 = forever)")
    retention_batch_size: int = Field(50_000, ge=1, description="rows one purge "
                                      "transaction deletes")
    scheduler: bool = Field(True, description="run the rollup and retention jobs on their "
                            "cron schedules inside `vigil serve` (VIGIL_SCHEDULER=off: not)")
    cron_daily: str = Field("0 3 * * *", description="when the daily rollup runs (crontab, "
                            "in the default time zone)")
    cron_weekly: str = Field("0 3 * * 0", description="when the weekly rollup runs "
                             "(crontab; 0 or 7 = Sunday)")
    cron_monthly: str = Field("0 3 1 * *", description="when the monthly rollup runs")
    cron_retention: str = Field("30 3 * * *", description="when retention purges")
    cron_patterns: str = Field("15 3 * * *", description="when patterns are detected from "
                               "the daily summaries (after the daily rollup)")

    @field_validator("cron_daily", "cron_weekly", "cron_monthly", "cron_retention",
                     "cron_patterns")
    @classmethod
    def _cron(cls, value: str, info: ValidationInfo) -> str:
        from vigil.rollup.crontab import check_crontab  # no import cycle

        try:
            return check_crontab(value)
        except ValueError as exc:
            raise ValueError(f"VIGIL_{str(info.field_name).upper()}: {exc}") from exc

    @field_validator("anomaly_event_thresholds", "anomaly_volume_thresholds")
    @classmethod
    def _three_cutoffs(cls, value: str | None) -> str | None:
        if value is not None:
            parse_thresholds(value)
        return value

    @field_validator("aggregates")
    @classmethod
    def _aggregate_store(cls, value: str) -> str:
        from vigil.rollup.influx_url import check_aggregates_setting  # no import cycle

        try:
            return check_aggregates_setting(value)
        except ValueError as exc:
            raise ValueError(f"VIGIL_AGGREGATES: {exc}") from exc

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_timezone(value)


def load_settings(toml_path: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``vigil.toml`` (if present), then the environment, then overrides."""
    path = toml_path or Path("vigil.toml")
    file_values: dict[str, Any] = {}
    if path.is_file():
        file_values = tomllib.loads(path.read_text(encoding="utf-8")).get("vigil", {})
    env_settings = Settings()
    explicit = env_settings.model_dump(exclude_unset=True)
    merged = {**file_values, **explicit, **overrides}
    return Settings(**merged)
