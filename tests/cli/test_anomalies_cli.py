"""``vigil ingest`` scores new events; ``vigil anomalies`` lists and marks them;
``vigil alerts`` manages rules and shows deliveries."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.history import after_history, event, history, night_visit

from .conftest import Invoke


def write_ndjson(path: Path, items: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


def test_ingest_scores_and_anomalies_lists(vigil: Invoke, db: Path, tmp_path: Path) -> None:
    first = vigil("ingest", write_ndjson(tmp_path / "h.ndjson", history()), "--db", db, "-q")
    assert first.exit_code == 0, first.stderr
    assert "scored" in first.stderr  # the history itself: the source is still learning
    night = [*night_visit(after_history(hours=3.1), "night"),
             event("yard", after_history(hours=3.6), "llama", "llama-1")]
    second = vigil("ingest", write_ndjson(tmp_path / "n.ndjson", night), "--db", db, "-q")
    assert second.exit_code == 0, second.stderr
    assert "scored 4 events" in second.stderr
    listed = vigil("anomalies", "--json", "--db", db)
    assert listed.exit_code == 0, listed.stderr
    found = {a["type"]: a for a in json.loads(listed.stdout)}
    assert {"rare_time", "novel_object"} <= set(found)
    assert found["novel_object"]["label"] == "llama"
    table = vigil("anomalies", "--db", db, "--type", "novel_object")
    assert "llama" in table.stdout and "rare_time" not in table.stdout

    anomaly_id = str(found["rare_time"]["anomaly_id"])  # the last of the night's visit
    assert vigil("anomalies", "ack", anomaly_id, "--db", db).exit_code == 0
    assert vigil("anomalies", "false-positive", anomaly_id, "--db", db).exit_code == 0
    marked = json.loads(vigil("anomalies", "--json", "--status", "false_positive",
                              "--db", db).stdout)
    assert [a["anomaly_id"] for a in marked] == [int(anomaly_id)]
    missing = vigil("anomalies", "ack", "99999", "--db", db)
    assert missing.exit_code == 1 and "no anomaly 99999" in missing.stderr
    bad = vigil("anomalies", "--type", "weird", "--db", db)
    assert bad.exit_code == 2 and "--type" in bad.stderr


def test_no_detect_then_scan(vigil: Invoke, db: Path, tmp_path: Path) -> None:
    assert vigil("ingest", write_ndjson(tmp_path / "h.ndjson", history()), "--db", db,
                 "-q").exit_code == 0
    night = night_visit(after_history(hours=3.1), "night")
    skipped = vigil("ingest", write_ndjson(tmp_path / "n.ndjson", night), "--db", db, "-q",
                    "--no-detect")
    assert "scored" not in skipped.stderr
    assert json.loads(vigil("anomalies", "--json", "--db", db).stdout) == []
    scan = vigil("anomalies", "scan", "--db", db)
    assert scan.exit_code == 0 and "scored 3 events" in scan.stdout
    found = json.loads(vigil("anomalies", "--json", "--type", "rare_time", "--db", db).stdout)
    assert found and {a["event_id"] for a in found} <= {"night-0", "night-1", "night-2"}


def test_alert_rules(vigil: Invoke, db: Path) -> None:
    added = vigil("alerts", "rules", "add", json.dumps(
        {"rule_id": "night", "name": "night people", "min_severity": "high",
         "schedule": {"hours": "22-6"}}), "--db", db)
    assert added.exit_code == 0 and "added alert rule night" in added.stdout
    rules = json.loads(vigil("alerts", "rules", "list", "--json", "--db", db).stdout)
    assert [r["rule_id"] for r in rules] == ["night"] and rules[0]["min_severity"] == "high"
    bad = vigil("alerts", "rules", "add", '{"name": "x", "min_severity": "loud"}', "--db", db)
    assert bad.exit_code == 2 and "min_severity" in bad.stderr
    assert json.loads(vigil("alerts", "deliveries", "--json", "--db", db).stdout) == []
    assert vigil("alerts", "rules", "remove", "night", "--db", db).exit_code == 0
    gone = vigil("alerts", "rules", "remove", "night", "--db", db)
    assert gone.exit_code == 1 and "no alert rule" in gone.stderr
