"""Person keys: one integer per subject id, kept with the sessions in the insert transaction.

The analytics group and count persons by ``sessions.person_key``; it must name each subject
with exactly one key and each key one subject, the same after a rebuild, after an upgrade
from a store without keys, and after an export and import.
"""

from __future__ import annotations

from pathlib import Path

from vigil.dwell.filters import AnalyticsFilter
from vigil.dwell.service import store_analytics
from vigil.store import Store, open_store
from vigil.store.transfer import export_store, import_store

from .downgrade import run_statements
from .test_sessions_store import Ev, insert


def person_keys(store: Store) -> dict[str, int]:
    """Each session's subject id and key, checked against ``persons`` and for being one to
    one."""
    rows = store.read_analytics("SELECT DISTINCT subject_id, person_key FROM sessions")
    keys = {r["subject_id"]: r["person_key"] for r in rows.to_pylist()}
    assert len(keys) == rows.num_rows  # one key per subject
    assert None not in keys.values()
    assert len(set(keys.values())) == len(keys)  # one subject per key
    persons = store.read_analytics("SELECT subject_id, person_key FROM persons").to_pylist()
    table = {r["subject_id"]: r["person_key"] for r in persons}
    assert len(set(table.values())) == len(table) == len(persons)
    assert {subject: table.get(subject) for subject in keys} == keys
    return keys


def visit(store: Store) -> None:
    """Three persons over two cameras and zones, in three batches (p3 arrives last)."""
    insert(store, Ev("a", "entry", 0, "p1", zone="z1"), Ev("b", "entry", 1, "p2", "cam2"))
    insert(store, Ev("c", "exit", 5, "p1", zone="z2"), Ev("d", "exit", 7, "p2", "cam2"),
           Ev("e", "entry", 8, "p1", "cam2"))
    insert(store, Ev("f", "entry", 9, "p3"), Ev("g", "exit", 3, "p1", zone="z1"))


def test_incremental_keys_equal_the_rebuilt_ones(store: Store) -> None:
    visit(store)
    keys = person_keys(store)
    assert set(keys) == {"p1", "p2", "p3"}
    assert store.rebuild_sessions() == store.count_sessions()
    assert person_keys(store) == keys
    store.rebuild_sessions("cam2")
    assert person_keys(store) == keys
    insert(store, Ev("h", "entry", 20, "p4", "cam2"), Ev("i", "exit", 21, "p1", "cam2"))
    later = person_keys(store)
    assert {s: later[s] for s in keys} == keys and later["p4"] not in keys.values()


def test_a_store_upgraded_from_0006_gets_its_person_keys(store_url: str, backend: str) -> None:
    store = open_store(store_url)
    visit(store)
    expected = store_analytics(store).kpis(AnalyticsFilter())["kpis"]
    store.close()
    run_statements(store_url, backend, [
        "DROP TABLE persons", "ALTER TABLE sessions DROP COLUMN person_key",
        "UPDATE alembic_version SET version_num = '0006'"])
    upgraded = open_store(store_url)
    try:
        assert set(person_keys(upgraded)) == {"p1", "p2", "p3"}
        assert store_analytics(upgraded).kpis(AnalyticsFilter())["kpis"] == expected
        insert(upgraded, Ev("h", "entry", 20, "p4"))
        assert set(person_keys(upgraded)) == {"p1", "p2", "p3", "p4"}
    finally:
        upgraded.close()


def test_export_and_import_carry_the_keys(store: Store, tmp_path: Path) -> None:
    visit(store)
    keys = person_keys(store)
    export_store(store, tmp_path / "export")
    target = open_store(str(tmp_path / "target.duckdb"))
    try:
        import_store(target, tmp_path / "export")
        assert person_keys(target) == keys
        insert(target, Ev("h", "entry", 20, "p4"))
        assert person_keys(target)["p4"] not in keys.values()
    finally:
        target.close()
