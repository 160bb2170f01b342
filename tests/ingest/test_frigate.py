"""Frigate ``frigate/events`` messages map to valid, replay-safe Vigil events.

Fixtures under ``data/frigate/`` are whole lifecycles (a JSON array of messages) in the
Frigate 0.14 shape (``snapshot`` object, ``sub_label`` as ``[name, score]``), the 0.11 shape
(``thumbnail``, ``snapshot_time``, ``sub_label`` as a string) and the 0.8 shape (no
``current_zones``), plus a false-positive object.
"""

from __future__ import annotations

import copy
import json
import pickle
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.ingest.frigate import FrigateMessageError, map_frigate_message
from vigil.model import MAX_ID_LENGTH, EventIn

DATA = Path(__file__).parent / "data" / "frigate"
LIFECYCLES = [
    "person_lifecycle_v0_14.json",
    "person_lifecycle_v0_11.json",
    "car_lifecycle_entered_zones_only.json",
]
ALL_FIXTURES = [*LIFECYCLES, "false_positive_v0_11.json"]

Message = dict[str, Any]
Event = dict[str, Any]


def load(name: str) -> list[Message]:
    """The messages of one fixture file."""
    messages: list[Message] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return messages


def map_all(messages: Iterable[Message]) -> list[Event]:
    """Every event of a message sequence, in order (repeats included)."""
    return [event for message in messages for event in map_frigate_message(message)]


def identities(events: Iterable[Event]) -> set[tuple[str, float]]:
    """The store's identity of each event."""
    return {(event["event_id"], event["timestamp"]) for event in events}


def deduplicated(events: Iterable[Event]) -> list[Event]:
    """The events the store keeps: the first of each (event_id, timestamp)."""
    seen: set[tuple[str, float]] = set()
    kept = []
    for event in events:
        key = (event["event_id"], event["timestamp"])
        if key not in seen:
            seen.add(key)
            kept.append(event)
    return kept


def zone_sequences(events: Iterable[Event]) -> dict[tuple[str, str], list[Event]]:
    """Entry/exit events grouped by (subject, zone), in emission order."""
    grouped: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for event in events:
        if event["event_type"] in ("entry", "exit"):
            grouped[(event["subject_id"], event["zone"])].append(event)
    return dict(grouped)


def assert_paired(events: list[Event]) -> None:
    """Per (subject, zone): entry, exit, entry, exit, ... with times never going back."""
    for key, sequence in zone_sequences(deduplicated(events)).items():
        types = [event["event_type"] for event in sequence]
        assert types == ["entry", "exit"] * (len(types) // 2), key
        times = [event["timestamp"] for event in sequence]
        assert times == sorted(times), key


def zone_events(events: Iterable[Event]) -> list[tuple[str, str, float]]:
    """(event_type, zone, timestamp) of the entries and exits, deduplicated, in order."""
    return [
        (event["event_type"], event["zone"], event["timestamp"])
        for event in deduplicated(events)
        if event["event_type"] in ("entry", "exit")
    ]


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_event_validates_as_event_in(name: str) -> None:
    for event in map_all(load(name)):
        model = EventIn.model_validate(event)
        assert model.source_id
        assert model.staged_row()["labels"]


@pytest.mark.parametrize("name", LIFECYCLES)
def test_replaying_gives_the_same_identities(name: str) -> None:
    messages = load(name)
    once = map_all(messages)
    assert identities(map_all(messages + messages)) == identities(once)
    assert identities(map_all(reversed(messages))) == identities(once)  # stateless
    by_id = defaultdict(set)
    for event in once:
        by_id[event["event_id"]].add(event["timestamp"])
    assert all(len(times) == 1 for times in by_id.values())


@pytest.mark.parametrize("name", LIFECYCLES)
def test_entries_and_exits_pair_up_over_a_lifecycle(name: str) -> None:
    events = map_all(load(name))
    assert_paired(events)
    assert zone_sequences(events)


def test_v0_14_lifecycle_events() -> None:
    events = deduplicated(map_all(load("person_lifecycle_v0_14.json")))
    oid = "1718000000.123456-a1b2c3"
    detections = [event for event in events if event["event_type"] == "detection"]
    assert detections == [{
        "event_id": oid,
        "camera_id": "front_door",
        "event_type": "detection",
        "timestamp": 1718000000.123456,
        "labels": ["person"],
        "confidence": 0.79296875,
        "attributes": {"frigate_type": "new", "stationary": False, "has_snapshot": False,
                       "has_clip": False},
    }]
    assert zone_events(events) == [
        ("entry", "driveway", 1718000004.5),
        ("exit", "driveway", 1718000009.25),
        ("entry", "porch", 1718000009.25),
        ("exit", "porch", 1718000014.5),
    ]
    entry = next(event for event in events if event["event_type"] == "entry")
    assert entry["event_id"] == f"{oid}:driveway:entry:1718000004500"
    assert entry["subject_id"] == oid
    assert entry["labels"] == ["person"]
    assert entry["camera_id"] == "front_door"


def test_v0_14_sub_label_pair_and_attributes() -> None:
    update = load("person_lifecycle_v0_14.json")[1]
    detection = map_frigate_message(update)[0]
    assert detection["confidence"] == 0.86328125
    assert detection["attributes"] == {
        "frigate_type": "update",
        "sub_label": "alice",
        "sub_label_score": 0.91,
        "stationary": False,
        "has_snapshot": True,
        "has_clip": True,
        "frigate_attributes": {"face": 0.86},
    }


def test_v0_11_lifecycle_events() -> None:
    messages = load("person_lifecycle_v0_11.json")
    events = deduplicated(map_all(messages))
    assert zone_events(events) == [
        ("entry", "yard", 1650000000.5),
        ("entry", "porch", 1650000003.75),
        ("exit", "yard", 1650000006.0),
        ("exit", "porch", 1650000010.0),
    ]
    sub_labelled = map_frigate_message(messages[1])[0]["attributes"]
    assert sub_labelled["sub_label"] == "bob"
    assert "sub_label" not in map_frigate_message(messages[0])[0]["attributes"]
    assert all(thumbnail_free(event) for event in map_all(messages))


def thumbnail_free(event: Event) -> bool:
    """The event carries no thumbnail (nor its base64 text)."""
    text = json.dumps(event)
    return "thumbnail" not in text and "/9j/" not in text


def test_entered_zones_only_falls_back_to_latest_time() -> None:
    events = deduplicated(map_all(load("car_lifecycle_entered_zones_only.json")))
    assert zone_events(events) == [
        ("entry", "street_parking", 1610000002.5),  # no frame_time: the snapshot time
        ("entry", "driveway", 1610000007.0),
        ("exit", "driveway", 1610000008.0),
        ("exit", "street_parking", 1610000008.0),
    ]


def test_false_positives_give_nothing() -> None:
    for message in load("false_positive_v0_11.json"):
        assert map_frigate_message(message) == []


def test_a_malformed_false_positive_still_raises() -> None:
    message = copy.deepcopy(load("false_positive_v0_11.json")[0])
    del message["after"]["camera"]
    with pytest.raises(FrigateMessageError, match="after.camera"):
        map_frigate_message(message)


def test_a_false_positive_before_counts_as_no_zones() -> None:
    first = copy.deepcopy(load("person_lifecycle_v0_11.json")[1])
    first["before"]["false_positive"] = True
    events = map_frigate_message(first)
    assert zone_events(events) == [
        ("entry", "porch", 1650000003.75),
        ("entry", "yard", 1650000003.75),
    ]


def test_new_message_uses_start_time_without_frame_time() -> None:
    new = copy.deepcopy(load("person_lifecycle_v0_11.json")[0])
    del new["after"]["frame_time"]
    assert zone_events(map_frigate_message(new)) == [("entry", "yard", 1650000000.5)]


def test_unknown_keys_are_ignored() -> None:
    for message in load("person_lifecycle_v0_14.json"):
        noisy = copy.deepcopy(message)
        noisy["retain"] = True
        noisy["version"] = {"nested": [1, 2, 3]}
        for side in ("before", "after"):
            noisy[side]["future_field"] = {"anything": None}
            noisy[side]["recognized_license_plate"] = ["AB123", 0.9]
            noisy[side]["snapshot"]["new_thing"] = "x"
        assert map_frigate_message(noisy) == map_frigate_message(message)


def test_bytes_text_and_dict_payloads_agree() -> None:
    message = load("person_lifecycle_v0_14.json")[2]
    text = json.dumps(message)
    expected = map_frigate_message(message)
    assert map_frigate_message(text) == expected
    assert map_frigate_message(text.encode("utf-8")) == expected


def test_long_ids_are_hashed_deterministically() -> None:
    message = copy.deepcopy(load("person_lifecycle_v0_14.json")[1])
    long_id = "x" * 200
    message["before"]["id"] = message["after"]["id"] = long_id
    events = map_frigate_message(message)
    assert events == map_frigate_message(copy.deepcopy(message))
    for event in events:
        assert len(event["event_id"]) <= MAX_ID_LENGTH
        EventIn.model_validate(event)
    assert len({event["event_id"] for event in events}) == len(events)
    assert events[1]["subject_id"] == events[0]["event_id"]


def with_change(path: str, value: Any) -> Message:
    """The 0.14 zone-entry update with ``path`` (dotted) set to ``value`` or deleted."""
    message = copy.deepcopy(load("person_lifecycle_v0_14.json")[1])
    *parents, key = path.split(".")
    target = message
    for parent in parents:
        target = target[parent]
    if value is DELETE:
        del target[key]
    else:
        target[key] = value
    return message


DELETE = object()
MALFORMED = [
    ("after", DELETE, "after", "missing_field"),
    ("after", [1, 2], "after", "wrong_type"),
    ("before", DELETE, "before", "missing_field"),
    ("before", "gone", "before", "wrong_type"),
    ("type", DELETE, "type", "missing_field"),
    ("type", "updated", "type", "invalid_value"),
    ("type", 3, "type", "wrong_type"),
    ("after.id", DELETE, "after.id", "missing_field"),
    ("after.id", 17, "after.id", "wrong_type"),
    ("after.id", "  ", "after.id", "invalid_value"),
    ("after.camera", DELETE, "after.camera", "missing_field"),
    ("after.camera", ["front"], "after.camera", "wrong_type"),
    ("after.camera", "c" * 129, "after.camera", "invalid_value"),
    ("after.label", None, "after.label", "missing_field"),
    ("after.label", {"name": "person"}, "after.label", "wrong_type"),
    ("after.start_time", DELETE, "after.start_time", "missing_field"),
    ("after.start_time", "1718000000", "after.start_time", "wrong_type"),
    ("after.start_time", True, "after.start_time", "wrong_type"),
    ("after.start_time", float("nan"), "after.start_time", "invalid_value"),
    ("after.start_time", 1718000000123.0, "after.start_time", "invalid_value"),
    ("after.frame_time", "now", "after.frame_time", "wrong_type"),
    ("after.end_time", -1, "after.end_time", "invalid_value"),
    ("after.top_score", "high", "after.top_score", "wrong_type"),
    ("after.top_score", 1.5, "after.top_score", "invalid_value"),
    ("after.sub_label", 42, "after.sub_label", "wrong_type"),
    ("after.sub_label", ["alice", "sure"], "after.sub_label", "wrong_type"),
    ("after.false_positive", "no", "after.false_positive", "wrong_type"),
    ("before.false_positive", 0, "before.false_positive", "wrong_type"),
    ("after.stationary", "yes", "after.stationary", "wrong_type"),
    ("after.current_zones", "driveway", "after.current_zones", "wrong_type"),
    ("after.current_zones", ["driveway", 3], "after.current_zones", "wrong_type"),
    ("after.current_zones", [""], "after.current_zones", "invalid_value"),
    ("before.current_zones", {"a": 1}, "before.current_zones", "wrong_type"),
    ("after.snapshot", "jpeg", "after.snapshot", "wrong_type"),
    ("after.snapshot.frame_time", "x", "after.snapshot.frame_time", "wrong_type"),
    ("after.attributes", "face", "after.attributes", "wrong_type"),
]


@pytest.mark.parametrize(("path", "value", "field", "reason"), MALFORMED,
                         ids=[f"{case[0]}-{case[3]}" for case in MALFORMED])
def test_malformed_message_names_the_field(path: str, value: Any, field: str,
                                           reason: str) -> None:
    with pytest.raises(FrigateMessageError) as caught:
        map_frigate_message(with_change(path, value))
    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert field in str(caught.value)


@pytest.mark.parametrize(("payload", "reason"), [
    (b"{not json", "invalid_json"),
    ("", "invalid_json"),
    (b"\xff\xfe", "invalid_json"),
    ('{"type": "new", "after": NaN}', "invalid_json"),
    ("[1, 2]", "not_object"),
    (b"null", "not_object"),
    ('"frigate"', "not_object"),
])
def test_undecodable_payloads(payload: bytes | str, reason: str) -> None:
    with pytest.raises(FrigateMessageError) as caught:
        map_frigate_message(payload)
    assert (caught.value.reason, caught.value.field) == (reason, None)


def test_error_is_a_picklable_value_error() -> None:
    error = FrigateMessageError("missing_field", "after.id")
    assert isinstance(error, ValueError)
    copied = pickle.loads(pickle.dumps(error))
    assert (copied.reason, copied.field, str(copied)) == ("missing_field", "after.id",
                                                         str(error))
    assert "after.id" in str(error)


# --- property: any lifecycle of zone sets ending in ``end`` pairs every zone's entries/exits

ZONES = ["driveway", "porch", "yard", "garden"]
START = 1_700_000_000.0


def lifecycle(zone_sets: list[frozenset[str]], steps: list[float], entered_only: bool,
              frame_times: bool, first_false_positives: int) -> list[Message]:
    """Frigate messages for an object whose zones go through ``zone_sets`` (new ... end)."""
    states = []
    now = START
    seen: set[str] = set()
    for index, (zones, step) in enumerate(zip(zone_sets, steps, strict=True)):
        now += step
        seen |= zones
        state: Message = {
            "id": "1700000000.0-prop01", "camera": "cam", "label": "person",
            "start_time": START, "end_time": None, "snapshot_time": now,
            "top_score": 0.9, "false_positive": index < first_false_positives,
        }
        if frame_times:
            state["frame_time"] = now
        if entered_only:
            state["entered_zones"] = sorted(seen)
        else:
            state["current_zones"] = sorted(zones)
            state["entered_zones"] = sorted(seen)
        states.append(state)
    states[-1]["end_time"] = now + 0.25
    kinds = ["new", *["update"] * (len(states) - 2), "end"]
    befores = [states[0], *states[:-1]]
    return [{"type": kind, "before": before, "after": after}
            for kind, before, after in zip(kinds, befores, states, strict=True)]


@st.composite
def lifecycles(draw: st.DrawFn) -> list[Message]:
    """A random lifecycle of two or more messages, ending in ``end``."""
    zone_sets = draw(st.lists(st.frozensets(st.sampled_from(ZONES)), min_size=2, max_size=10))
    steps = draw(st.lists(st.floats(0.01, 30.0), min_size=len(zone_sets),
                          max_size=len(zone_sets)))
    return lifecycle(zone_sets, steps, entered_only=draw(st.booleans()),
                     frame_times=draw(st.booleans()),
                     first_false_positives=draw(st.integers(0, len(zone_sets) - 1)))


@settings(max_examples=300, deadline=None)
@given(messages=lifecycles(), data=st.data())
def test_entries_and_exits_alternate_for_any_lifecycle(messages: list[Message],
                                                       data: st.DataObject) -> None:
    events = map_all(messages)
    for event in events:
        EventIn.model_validate(event)
    assert_paired(events)
    for sequence in zone_sequences(deduplicated(events)).values():
        kinds = [event["event_type"] for event in sequence]
        assert kinds.count("entry") == kinds.count("exit")
    replayed = data.draw(st.permutations(messages + data.draw(st.lists(st.sampled_from(messages)))))
    assert identities(map_all(replayed)) == identities(events)
