"""The activity starts detectors read: which events start something, local minutes in each
source's zone, and the per-day answer shared by the detectors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from vigil.patterns.dayevents import activities

from .builders import Ev, at, detection, entry, exit_, ha, table

DAY = dt.date(2024, 3, 4)


def test_only_changes_to_an_active_state_start_an_activity() -> None:
    events = table([
        ha("light.hall", at(DAY, 7), "on", old="off"),
        ha("light.hall", at(DAY, 7, 5), "on", old="on"),  # an attribute update
        ha("light.hall", at(DAY, 8), "off"),
        ha("switch.fan", at(DAY, 9), "on", old="unavailable"),
        entry("door", at(DAY, 10), "p1"),
        exit_("door", at(DAY, 11), "p1"),
        detection("yard", at(DAY, 12), "cat"),
    ])
    found = activities(events)
    assert found.item.tolist() == ["light.hall", "switch.fan", "door:entry", "yard:cat"]
    assert found.minute.tolist() == [420, 540, 600, 720]


def test_an_event_with_no_label_is_named_by_its_type() -> None:
    events = table([Ev("yard", at(DAY, 6), "motion", label=None),
                    Ev("yard", at(DAY, 6, 1), "detection", label="dog")])
    assert activities(events).item.tolist() == ["yard:motion", "yard:dog"]


def test_local_minutes_follow_each_source_zone_including_half_hour_offsets() -> None:
    moment = at(DAY, 3, 10)  # 03:10 UTC
    events = table([detection("a", moment, zone="Asia/Kolkata"),
                    detection("b", moment + 1, zone="America/New_York")])
    found = activities(events)
    assert found.minute.tolist() == [8 * 60 + 40, 22 * 60 + 10]  # 08:40 and 22:10


def test_the_shared_answer_cannot_be_changed_by_a_detector() -> None:
    events = table([detection("a", at(DAY, 5))])
    first = activities(events)
    assert activities(events) is first
    with pytest.raises(ValueError):
        first.minute[0] = np.int16(1)
    assert activities(table([detection("a", at(DAY, 5))])) is not first
