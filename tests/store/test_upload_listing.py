"""The upload listing: newest first, stable cursor pages, status filter, totals only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.store import Store, UploadState

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
STATUSES = ("queued", "processing", "done", "failed")


def full_report(accepted: int, rejected_lines: int) -> dict[str, object]:
    """A report like an ingest's, with many rejected lines."""
    return {
        "source": "x.csv", "rows_read": accepted + rejected_lines + 3, "accepted": accepted,
        "duplicates": 3, "rejected": rejected_lines,
        "rejected_by_reason": {"bad_timestamp": {
            "count": rejected_lines, "field": "timestamp", "message": "unreadable",
            "lines": list(range(2, 2 + rejected_lines))}},
        "per_source": {"cam": accepted}, "time_range": {"first": None, "last": None},
    }


def upload(upload_id: str, minute: int, status: str = "done",
           **extra: Any) -> UploadState:
    return UploadState(upload_id=upload_id, filename=f"{upload_id}.csv", status=status,
                       bytes_total=100, created_at=T0 + dt.timedelta(minutes=minute),
                       **extra)


def walk(store: Store, limit: int, status: str | None = None) -> list[list[str]]:
    """The ids of every page, following the cursor of the last upload of each."""
    pages: list[list[str]] = []
    before: tuple[dt.datetime, str] | None = None
    while True:
        page = store.list_uploads(limit, before, status)
        if not page:
            return pages
        pages.append([u.upload_id for u in page])
        last = page[-1]
        assert last.created_at is not None
        before = (last.created_at, last.upload_id)


def test_newest_first_with_ties_broken_by_id(store: Store) -> None:
    for upload_id, minute in (("a", 0), ("c", 5), ("b", 5), ("d", 2)):
        store.save_upload(upload(upload_id, minute))
    listed = store.list_uploads(10)
    assert [u.upload_id for u in listed] == ["c", "b", "d", "a"]
    assert [u.created_at for u in listed] == [T0 + dt.timedelta(minutes=m) for m in (5, 5, 2, 0)]
    assert walk(store, 1) == [["c"], ["b"], ["d"], ["a"]]
    assert walk(store, 3) == [["c", "b", "d"], ["a"]]
    assert store.list_uploads(10, (T0 + dt.timedelta(minutes=5), "c")) == listed[1:]


def test_status_filter_and_its_pages(store: Store) -> None:
    for n, status in enumerate(("done", "failed", "done", "queued", "done", "processing")):
        store.save_upload(upload(f"u{n}", n, status))
    assert walk(store, 2, "done") == [["u4", "u2"], ["u0"]]
    assert [u.upload_id for u in store.list_uploads(10, status="failed")] == ["u1"]
    assert store.list_uploads(10, status="nonsense") == []


def test_summary_holds_the_totals_but_not_the_rejected_lines(store: Store) -> None:
    report = full_report(accepted=40, rejected_lines=5000)
    store.save_upload(upload("big", 1, "done", report=report, rows_read=5043, bytes_done=100,
                             uploaded_by="k1"))
    store.save_upload(upload("bad", 2, "failed", error="missing required column: camera_id"))
    store.save_upload(upload("odd", 3, "done", report={"accepted": 1}))  # an older report
    odd, bad, big = store.list_uploads(10)
    assert big.report == {"rows_read": 5043, "accepted": 40, "duplicates": 3, "rejected": 5000}
    assert (big.filename, big.status, big.bytes_total, big.bytes_done, big.rows_read,
            big.uploaded_by, big.error) == ("big.csv", "done", 100, 100, 5043, "k1", None)
    assert big.created_at == T0 + dt.timedelta(minutes=1)
    assert big.updated_at is not None and big.updated_at > big.created_at
    assert (bad.report, bad.error) == (None, "missing required column: camera_id")
    assert odd.report == {"rows_read": 0, "accepted": 1, "duplicates": 0, "rejected": 0}
    stored = store.get_upload("big")
    assert stored is not None and stored.report == report  # the full report is kept


def test_uploader_and_creation_time_survive_later_saves(store: Store) -> None:
    options = {"format": "csv", "timezone": None, "timestamp_format": None, "column_map": {}}
    state = UploadState(upload_id="u", filename="u.csv", status="queued", bytes_total=9,
                        options=options, uploaded_by="key42")
    store.save_upload(state)
    first = store.get_upload("u")
    assert first is not None and first.created_at is not None
    assert (first.uploaded_by, first.options) == ("key42", options)  # options stay as sent
    store.save_upload(UploadState(**{**vars(first), "status": "done", "uploaded_by": None,
                                     "created_at": None}))
    (listed,) = store.list_uploads(5)
    assert (listed.status, listed.uploaded_by, listed.created_at) == (
        "done", "key42", first.created_at)
    assert [u.upload_id for u in store.unfinished_uploads()] == []
    store.save_upload(UploadState(upload_id="anon", filename="a.csv", status="queued"))
    anonymous = store.get_upload("anon")
    assert anonymous is not None and anonymous.uploaded_by is None
    assert anonymous.options == {}


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(minutes=st.lists(st.integers(0, 4), max_size=12),
       statuses=st.lists(st.sampled_from(STATUSES), min_size=12, max_size=12),
       limit=st.integers(1, 5), status=st.sampled_from([None, *STATUSES]))
def test_pages_list_each_upload_once_in_order(store_factory: Callable[[], Store],
                                              minutes: list[int], statuses: list[str],
                                              limit: int, status: str | None) -> None:
    """Whatever the ties in creation time, the pages together are the sorted listing."""
    store = store_factory()
    try:
        for n, minute in enumerate(minutes):
            store.save_upload(upload(f"u{n:02d}", minute, statuses[n]))
        pages = walk(store, limit, status)
        expected = sorted(((minute, f"u{n:02d}") for n, minute in enumerate(minutes)
                           if status in (None, statuses[n])), reverse=True)
        assert [i for page in pages for i in page] == [i for _, i in expected]
        assert all(len(page) == limit for page in pages[:-1])
    finally:
        store.close()
