"""``vigil baselines show`` and ``vigil baselines rebuild``."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import Invoke


def write_events(path: Path) -> None:
    lines = ["event_id,camera_id,event_type,timestamp,label"]
    lines += [f"e{i},porch,detection,2026-11-{1 + i % 20:02d}T{8 + i % 3:02d}:00:00Z,person"
              for i in range(60)]
    lines += ["c1,garage,detection,2026-11-19T22:00:00Z,car"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_show_and_rebuild(vigil: Invoke, db: Path, tmp_path: Path) -> None:
    write_events(tmp_path / "e.csv")
    assert vigil("ingest", tmp_path / "e.csv", "--db", db, "--quiet").exit_code == 0
    shown = vigil("baselines", "show", "--db", db, "--weeks", "520", "--json")
    assert shown.exit_code == 0, shown.stderr
    baselines = {b["source_id"]: b for b in json.loads(shown.stdout)}
    assert baselines["porch"]["total_events"] == 60
    assert baselines["porch"]["dominant_object_type"] == "person"
    assert baselines["garage"]["status"] == "learning"
    table = vigil("baselines", "show", "--db", db, "--weeks", "520")
    assert table.exit_code == 0 and "porch" in table.stdout and "garage" in table.stdout
    one = vigil("baselines", "show", "porch", "--db", db, "--weeks", "520", "--json")
    assert json.loads(one.stdout)["source_id"] == "porch"

    rebuilt = vigil("baselines", "rebuild", "--db", db)
    assert rebuilt.exit_code == 0 and "rebuilt" in rebuilt.stdout
    again = vigil("baselines", "show", "--db", db, "--weeks", "520", "--json")
    assert json.loads(again.stdout)[0]["total_events"] == 1  # garage, unchanged by rebuild


def test_unknown_source_is_an_error(vigil: Invoke, db: Path) -> None:
    result = vigil("baselines", "show", "nope", "--db", db)
    assert result.exit_code != 0 and "nope" in result.stderr
    result = vigil("baselines", "rebuild", "--source", "nope", "--db", db)
    assert result.exit_code != 0 and "nope" in result.stderr
