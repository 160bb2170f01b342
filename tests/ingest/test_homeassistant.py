"""Home Assistant input: state_changed events, the History CSV export, area mappings."""

from __future__ import annotations

import datetime as dt
import importlib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.ingest.areas import AreaMappingError, parse_area_mapping, read_area_mapping
from vigil.ingest.files import FileOptions, ingest_file
from vigil.ingest.finalise import STAGED_QUERY, finalise
from vigil.ingest.ha_staging import (
    finalise_state_changes,
    ingest_ha_payload,
    stage_state_changes,
    with_ha_ids,
)
from vigil.ingest.homeassistant import HaEventError, map_state_change
from vigil.ingest.jsonitems import PayloadError, parse_payload
from vigil.store import Store, open_store
from vigil.store.transfer import export_store, import_store

from .helpers import all_events, rejected_lines

UTC = dt.UTC


def change(entity: str, new: str | None, at: str | None, old: str | None = None,
           attributes: dict[str, Any] | None = None, wrapped: bool = True,
           fired: str | None = None) -> dict[str, Any]:
    """A state_changed event (or its bare data) with the given states."""
    data = {
        "entity_id": entity,
        "old_state": None if old is None else {"entity_id": entity, "state": old,
                                               "last_changed": "2024-03-01T00:00:00+00:00"},
        "new_state": None if new is None else {"entity_id": entity, "state": new,
                                               "attributes": attributes or {},
                                               "last_changed": at},
    }
    if not wrapped:
        return data
    return {"event_type": "state_changed", "data": data, "time_fired": fired or at,
            "origin": "LOCAL", "context": {"id": "01HQ", "parent_id": None, "user_id": None}}


# -- the mapping of one state change -------------------------------------------------------
def test_documented_fields_of_a_state_change() -> None:
    event = map_state_change(change("light.kitchen", "on", "2024-03-01T10:00:00.5+01:00",
                                    old="off", attributes={"friendly_name": "Kitchen",
                                                           "area": "Kitchen "}))
    assert event == {
        "source_id": "light.kitchen", "event_type": "state_changed",
        "timestamp": "2024-03-01T10:00:00.5+01:00", "labels": ["light"], "zone": "Kitchen",
        "state": "on",
        "attributes": {"friendly_name": "Kitchen", "area": "Kitchen ", "old_state": "off",
                       "domain": "light"},
    }


def test_removed_entity_and_missing_states() -> None:
    removed = map_state_change(change("sensor.temp", None, None, old="21.5",
                                      fired="2024-03-01T11:00:00Z"),
                               {"sensor.temp": "Attic"})
    assert removed["state"] is None and removed["zone"] == "Attic"
    assert removed["timestamp"] == "2024-03-01T11:00:00Z"  # time_fired before old_state's
    assert removed["attributes"] == {"old_state": "21.5", "domain": "sensor", "removed": True}
    bare = change("sensor.temp", None, None, old="21.5", wrapped=False)
    assert map_state_change(bare)["timestamp"] == "2024-03-01T00:00:00+00:00"
    new = map_state_change(change("switch.fan", "on", "2024-03-01T10:00:00Z", wrapped=False))
    assert new["attributes"]["old_state"] is None and "removed" not in new["attributes"]
    with pytest.raises(HaEventError) as both:
        map_state_change({"entity_id": "switch.fan"})
    assert (both.value.reason, both.value.field) == ("ha_state_invalid", "new_state")


@pytest.mark.parametrize(("item", "reason", "field"), [
    ([], "ha_not_state_changed", "row"),
    ({"hello": 1}, "ha_not_state_changed", "entity_id"),
    ({"event_type": "call_service", "data": {}}, "ha_not_state_changed", "event_type"),
    ({"event_type": "state_changed", "data": "x"}, "ha_not_state_changed", "data"),
    ({"entity_id": "kitchen", "new_state": {"state": "on"}}, "ha_entity_id_invalid",
     "entity_id"),
    ({"entity_id": 7, "new_state": {"state": "on"}}, "ha_entity_id_invalid", "entity_id"),
    ({"entity_id": "light." + "x" * 130, "new_state": {"state": "on"}},
     "ha_entity_id_invalid", "entity_id"),
    ({"entity_id": "light.a", "new_state": "on"}, "ha_state_invalid", "new_state"),
    ({"entity_id": "light.a", "new_state": {"state": 1, "last_changed": "2024-03-01T10:00Z"}},
     "ha_state_invalid", "new_state.state"),
    ({"entity_id": "light.a", "new_state": {"state": "on", "attributes": [1],
                                            "last_changed": "2024-03-01T10:00Z"}},
     "ha_state_invalid", "new_state.attributes"),
    ({"entity_id": "light.a", "new_state": {"state": "on"}}, "timestamp_missing",
     "new_state.last_changed"),
    ({"event_type": "state_changed", "data": {"entity_id": "light.a",
                                              "new_state": {"state": "on",
                                                            "last_changed": True}}},
     "timestamp_invalid", "data.new_state.last_changed"),
])
def test_bad_items_name_reason_and_field(item: Any, reason: str, field: str) -> None:
    with pytest.raises(HaEventError) as caught:
        map_state_change(item)
    assert (caught.value.reason, caught.value.field) == (reason, field)
    assert str(caught.value).startswith(f"{field}: ")


# -- property tests ------------------------------------------------------------------------
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=12)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | TEXT
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8)
ENTITY = st.from_regex(r"[a-z][a-z0-9_]{0,8}\.[a-z0-9_]{1,12}", fullmatch=True)
STATE = TEXT.filter(lambda s: s == s.strip())
MOMENT = st.datetimes(min_value=dt.datetime(1991, 1, 1), max_value=dt.datetime(2098, 1, 1),
                      timezones=st.sampled_from([UTC, dt.timezone(dt.timedelta(hours=2)),
                                                 dt.timezone(dt.timedelta(hours=-7))]))
AREA = st.sampled_from(["Kitchen", "Living room", "  ", ""])


@st.composite
def state_changes(draw: st.DrawFn) -> dict[str, Any]:
    """A valid state change and what its event must hold (``zone``: from its attributes)."""
    entity = draw(ENTITY)
    shape = draw(st.sampled_from(["both", "new", "removed"]))
    old = draw(STATE) if shape != "new" else None
    new = draw(STATE) if shape != "removed" else None
    attributes = draw(st.dictionaries(  # keys are stripped by event validation, as any JSON
        STATE.filter(lambda k: k not in ("area", "area_id", "room")), JSON_VALUE, max_size=4))
    area = draw(st.none() | AREA)
    if area is not None:
        attributes["area"] = area
    moment = draw(MOMENT)
    when = draw(st.sampled_from([  # the last two only the SQL rules parse
        moment.isoformat(), moment.isoformat().replace("+00:00", "Z"),
        moment.strftime("%Y-%m-%dT%H:%M:%S.%f000%z"), moment.strftime("%Y-%m-%d %H:%M:%S.%f%z")]))
    wrapped = draw(st.booleans())
    if new is None:
        item = change(entity, None, None, old=old, wrapped=wrapped, fired=when)
        (item["data"] if wrapped else item)["old_state"]["last_changed"] = when
    else:
        item = change(entity, new, when, old=old, attributes=attributes, wrapped=wrapped)
    expected = {} if new is None else dict(attributes)
    expected |= {"old_state": old, "domain": entity.split(".")[0]}
    if new is None:
        expected["removed"] = True
    zone = area.strip() if new is not None and area and area.strip() else None
    return {"item": item, "entity": entity, "state": new, "attributes": expected,
            "ts": moment.astimezone(UTC), "zone": zone,
            "mapped": draw(st.booleans())}


def _key(entity: str, ts: dt.datetime, state: str | None, zone: str | None,
         labels: list[str], attributes: dict[str, Any]) -> tuple[Any, ...]:
    return (entity, ts, state, zone, tuple(labels), json.dumps(attributes, sort_keys=True))


@settings(max_examples=60, deadline=None)
@given(st.lists(state_changes(), min_size=1, max_size=6))
def test_valid_state_changes_round_trip(cases: list[dict[str, Any]]) -> None:
    areas: dict[str, str | None] = {c["entity"]: "Mapped" for c in cases if c["mapped"]}
    items = list(enumerate(c["item"] for c in cases))
    staged = stage_state_changes(items, areas)
    assert staged.rejected == []
    result = finalise_state_changes(staged.staged)
    assert result.rejected == []
    # the Python ids of small batches are the SQL ids
    by_sql = finalise({"staged": staged.staged}, with_ha_ids(STAGED_QUERY))
    assert by_sql.events.equals(result.events)
    assert result.events.column("event_type").to_pylist() == ["state_changed"] * len(cases)
    got = {_key(r["source_id"], r["ts"], r["state"], r["zone"], r["labels"],
                json.loads(r["attributes"])) for r in result.events.to_pylist()}
    want = {_key(c["entity"], c["ts"], c["state"], c["zone"] or areas.get(c["entity"]),
                 [c["entity"].split(".")[0]], c["attributes"]) for c in cases}
    assert got == want
    # the id depends on entity, time and state only: not on attributes or zones
    ids = {(r["source_id"], r["ts"], r["state"]): r["event_id"]
           for r in result.events.to_pylist()}
    assert len(set(ids.values())) == len(ids)
    bare = [(i, {**c["item"], "time_fired": None}) if "data" in c["item"] else (i, c["item"])
            for i, c in enumerate(cases) if c["state"] is not None]
    for row in finalise_state_changes(stage_state_changes(bare).staged).events.to_pylist():
        assert ids[(row["source_id"], row["ts"], row["state"])] == row["event_id"]


def test_small_batches_take_the_python_ids() -> None:
    from vigil.ingest.ha_staging import _quick_ids

    plain = stage_state_changes([(0, change("light.a", "on", "2024-03-01T10:00:00.5Z"))])
    quick = _quick_ids(plain.staged, None)
    assert quick is not None and quick.column("event_id")[0].as_py()
    nanos = stage_state_changes([(0, change("light.a", "on", "2024-03-01T10:00:00.5000Z")),
                                 (1, change("light.a", "on", "2024-03-01T10:00:00.123456789Z"))])
    assert _quick_ids(nanos.staged, None) is None  # the SQL rules decide
    assert finalise_state_changes(nanos.staged).events.num_rows == 2


def _mutated(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    item = json.loads(json.dumps(base))
    holder = item
    for key in path[:-1]:
        if not isinstance(holder.get(key), dict):
            holder[key] = {}
        holder = holder[key]
    holder[path[-1]] = value
    return item


PATHS = st.sampled_from([
    ["event_type"], ["data"], ["time_fired"], ["data", "entity_id"], ["data", "old_state"],
    ["data", "new_state"], ["data", "new_state", "state"], ["data", "new_state", "attributes"],
    ["data", "new_state", "last_changed"], ["data", "old_state", "state"],
    ["data", "old_state", "last_changed"], ["data", "new_state", "attributes", "area"],
])
GARBAGE = JSON_VALUE | st.builds(_mutated, st.just(change("light.a", "on", "2024-03-01T10:00Z",
                                                          old="off")), PATHS, JSON_VALUE)


@settings(max_examples=150, deadline=None)
@given(st.lists(GARBAGE, max_size=6))
def test_garbage_never_crashes_and_every_item_is_accounted(items: list[Any]) -> None:
    numbered = list(enumerate(items))
    staged = stage_state_changes(numbered)
    result = finalise_state_changes(staged.staged)
    rejected = {r.index for r in staged.rejected} | {ref for ref, _ in result.rejected}
    assert len(rejected) + result.events.num_rows == len(items)
    for item in staged.rejected:
        assert item.reason and item.field and item.message.startswith(item.field)
    for index, item in numbered:
        try:
            map_state_change(item)
        except HaEventError as exc:
            assert index in rejected and exc.field


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=60) | st.text(max_size=60).map(str.encode))
def test_garbage_bodies_give_clear_errors(body: bytes) -> None:
    try:
        result = ingest_ha_payload(body, lambda table: table.num_rows)
    except (PayloadError, UnicodeDecodeError) as exc:
        assert str(exc)
        return
    assert result.accepted + result.duplicates + result.rejected == len(parse_payload(body))
    assert all(e.field and e.message for e in result.errors)


# -- History CSV -----------------------------------------------------------------------------
HISTORY = (
    "entity_id,state,last_changed,friendly_name\n"
    "light.kitchen,on,2024-03-01T12:00:00.000Z,Kitchen light\n"          # line 2
    "binary_sensor.door,on,2024-03-01T11:00:00.000Z,Door\n"             # line 3
    "light.kitchen,off,2024-03-01T10:00:00.000Z,Kitchen light\n"         # line 4
    "binary_sensor.door,off,01/03/2024 11:05,Door\n"                     # line 5: bad time
    "light.kitchen,off,2024-03-01T13:30:00.000Z,\n"                      # line 6
    "binary_sensor.door,off,2024-03-01T11:10:00.000Z,Door\n"             # line 7
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_history_csv_bad_row_reported_rest_stored(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "history.csv", HISTORY)
    options = FileOptions(format="ha-history", areas={"binary_sensor.door": "Hall"})
    report = ingest_file(path, store.insert_events, options).to_dict()
    assert report["rows_read"] == 6 and report["accepted"] == 5
    assert rejected_lines(report) == {"timestamp_invalid": [5]}
    assert report["per_source"] == {"binary_sensor.door": 2, "light.kitchen": 3}
    events = all_events(store)
    chain = [(e["source_id"], e["ts"].astimezone(UTC).strftime("%H:%M"), e["state"],
              e["attributes"]["old_state"], e["zone"], e["labels"]) for e in events]
    assert chain == [
        ("light.kitchen", "10:00", "off", None, None, ["light"]),
        ("binary_sensor.door", "11:00", "on", None, "Hall", ["binary_sensor"]),
        ("binary_sensor.door", "11:10", "off", "on", "Hall", ["binary_sensor"]),
        ("light.kitchen", "12:00", "on", "off", None, ["light"]),
        ("light.kitchen", "13:30", "off", "on", None, ["light"]),
    ]
    assert events[0]["attributes"] == {"domain": "light", "friendly_name": "Kitchen light",
                                       "old_state": None}
    assert events[0]["event_type"] == "state_changed"
    # re-ingesting the same file stores nothing new
    hourly = store.hourly_counts()
    again = ingest_file(path, store.insert_events, options).to_dict()
    assert (again["accepted"], again["duplicates"]) == (0, 5)
    assert store.count_events() == 5 and store.hourly_counts().equals(hourly)


def test_history_area_column_beats_mapping_and_bad_rows(tmp_path: Path, store: Store) -> None:
    path = write(tmp_path, "areas.csv",
                 "Entity_ID,State,Last_Changed,Area\n"
                 "light.a,on,2024-03-01T10:00:00Z,Kitchen\n"
                 "light.a,off,2024-03-01T11:00:00Z,\n"
                 "kitchen,on,2024-03-01T10:00:00Z,\n"
                 "light.b,,2024-03-01T10:00:00Z,\n")
    report = ingest_file(path, store.insert_events,
                         FileOptions(format="ha-history", areas={"light.a": "Mapped"})).to_dict()
    assert rejected_lines(report) == {"ha_entity_id_invalid": [4], "ha_state_invalid": [5]}
    assert [e["zone"] for e in all_events(store)] == ["Kitchen", "Mapped"]


def test_history_needs_its_columns(tmp_path: Path, store: Store) -> None:
    from vigil.ingest.files import IngestFileError

    path = write(tmp_path, "cams.csv", "timestamp,camera_id,event_type\n")
    with pytest.raises(IngestFileError, match="last_changed"):
        ingest_file(path, store.insert_events, FileOptions(format="ha-history"))


def test_ha_events_ndjson_file(tmp_path: Path, store: Store) -> None:
    first = change("light.hall", "on", "2024-03-01T10:00:00+00:00", old="off",
                   attributes={"brightness": 200})
    dimmed = change("light.hall", "on", "2024-03-01T10:00:00+00:00", old="on",
                    attributes={"brightness": 90}, fired="2024-03-01T10:07:00+00:00")
    lines = [json.dumps(first), json.dumps(dimmed), "{not json",
             json.dumps({"event_type": "call_service", "data": {}}), "",
             json.dumps(change("light.hall", "off", "2024-03-01T11:00:00Z", old="on",
                               wrapped=False))]
    path = write(tmp_path, "events.ndjson", "\n".join(lines) + "\n")
    report = ingest_file(path, store.insert_events, FileOptions(format="ha-events")).to_dict()
    assert rejected_lines(report) == {"invalid_json": [3], "ha_not_state_changed": [4]}
    # an attribute-only update of the same state is the same event
    assert (report["accepted"], report["duplicates"]) == (2, 1)
    again = ingest_file(path, store.insert_events, FileOptions(format="ha-events")).to_dict()
    assert (again["accepted"], again["duplicates"]) == (0, 3)


def test_live_event_and_history_row_are_one_event(tmp_path: Path, store: Store) -> None:
    body = json.dumps(change("switch.fan", "on", "2024-03-01T10:00:00.250+00:00", old="off"))
    assert ingest_ha_payload(body.encode(), store.insert_events).accepted == 1
    path = write(tmp_path, "fan.csv", "entity_id,state,last_changed\n"
                                      "switch.fan,on,2024-03-01T10:00:00.250Z\n")
    report = ingest_file(path, store.insert_events, FileOptions(format="ha-history"))
    assert (report.accepted, report.duplicates) == (0, 1)


# -- areas in the store --------------------------------------------------------------------------
def test_events_of_local_day_use_the_source_area(store: Store) -> None:
    items = [change("light.kitchen", "on", "2024-03-01T10:00:00Z", old="off",
                    attributes={"area": "Kitchen"}),
             change("light.porch", "on", "2024-03-01T10:05:00Z", old="off",
                    attributes={"area": "Porch"}),
             change("sensor.none", "1", "2024-03-01T10:10:00Z")]
    assert ingest_ha_payload(json.dumps(items).encode(), store.insert_events).accepted == 3
    info = store.set_source_area("light.porch", "Front garden")
    assert (info.area, info.timezone, info.event_count) == ("Front garden", "UTC", 1)
    day = store.events_of_local_day(dt.date(2024, 3, 1)).to_pylist()
    assert [(e["source_id"], e["zone"], e["area"]) for e in day] == [
        ("light.kitchen", "Kitchen", "Kitchen"), ("light.porch", "Porch", "Front garden"),
        ("sensor.none", None, None)]
    assert store.set_source_area("light.porch", None).area is None
    day = store.events_of_local_day(dt.date(2024, 3, 1)).to_pylist()
    assert [e["area"] for e in day] == ["Kitchen", "Porch", None]


def test_set_source_area_registers_and_keeps_zone(store: Store) -> None:
    store.set_source_timezone("cam.front", "Europe/Berlin")
    assert store.set_source_area("cam.front", "Drive").timezone == "Europe/Berlin"
    created = store.set_source_area("binary_sensor.new", "Attic")
    assert (created.timezone, created.event_count, created.area) == ("UTC", 0, "Attic")
    assert {s.source_id: s.area for s in store.list_sources()} == {
        "binary_sensor.new": "Attic", "cam.front": "Drive"}


def test_areas_survive_export_and_old_exports_import(store: Store, tmp_path: Path) -> None:
    store.set_source_area("light.a", "Kitchen")
    store.set_source_timezone("light.b", "Asia/Tokyo")
    export_store(store, tmp_path / "out")
    target = open_store(str(tmp_path / "target.duckdb"))
    try:
        import_store(target, tmp_path / "out")
        assert {s.source_id: s.area for s in target.list_sources()} == {
            "light.a": "Kitchen", "light.b": None}
    finally:
        target.close()
    sources = tmp_path / "out" / "sources.parquet"
    pq.write_table(pq.read_table(sources).drop_columns(["area"]), sources)
    older = open_store(str(tmp_path / "older.duckdb"))
    try:
        import_store(older, tmp_path / "out")
        assert {s.source_id: (s.timezone, s.area) for s in older.list_sources()} == {
            "light.a": ("UTC", None), "light.b": ("Asia/Tokyo", None)}
    finally:
        older.close()


# -- area mapping files ------------------------------------------------------------------------
def test_area_mapping_csv_and_json(tmp_path: Path) -> None:
    csv_map = write(tmp_path, "areas.csv", "\ufeffEntity_ID, Area\nlight.a,Kitchen\n\n"
                                           'light.b,"Living room, east"\nlight.c,\n')
    assert read_area_mapping(csv_map) == {"light.a": "Kitchen", "light.b": "Living room, east",
                                          "light.c": None}
    assert parse_area_mapping('{"light.a": " Hall ", "light.b": null}') == {
        "light.a": "Hall", "light.b": None}


@pytest.mark.parametrize(("text", "where"), [
    ("entity,room\nlight.a,Kitchen\n", "line 1"),
    ("entity_id,area\nlight.a,Kitchen\nlight.b\n", "line 3"),
    ("entity_id,area\n\nlight.a,Kitchen\n,Hall\n", "line 4"),
    ("entity_id,area\nlight.a,Kitchen\nlight.a,Hall\n", "line 3"),
    ('{"light.a": "Kitchen",\n "light.b": }', "line 2"),
    ('{"light.a": 5}', "key 'light.a'"),
    ('{"light.a": "  "}', "key 'light.a'"),
    ('["light.a"]', "JSON object"),
])
def test_bad_area_mapping_names_the_line(text: str, where: str) -> None:
    with pytest.raises(AreaMappingError, match=where):
        parse_area_mapping(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_area_mapping_garbage_gives_a_clear_error(text: str) -> None:
    try:
        mapping = parse_area_mapping(text)
    except AreaMappingError as exc:
        assert str(exc)
        return
    assert all(isinstance(k, str) and k for k in mapping)


@pytest.mark.parametrize("name", ["homeassistant", "ha_staging", "ha_history", "areas"])
def test_public_names_resolve(name: str) -> None:
    module = importlib.import_module(f"vigil.ingest.{name}")
    assert module.__all__ and all(hasattr(module, n) for n in module.__all__)
