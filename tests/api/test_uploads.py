"""Uploads: background processing, progress, quality report, failures, resume."""

from __future__ import annotations

import gc
import json
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.config import Settings
from vigil.store import UploadState
from vigil.synth import SynthConfig, generate_events, ground_truth, write_dataset

from .helpers import EVENTS, add_key, all_events, wait_upload

UPLOADS = "/api/v1/uploads"
CONFIG = SynthConfig(rows=1500, days=2, bad_fraction=0.06, seed=11)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    table = generate_events(CONFIG)
    folder = tmp_path_factory.mktemp("synth")
    paths = write_dataset(table, folder, ("csv",))
    return paths["csv"], ground_truth(table, CONFIG)


def check_report(body: dict[str, Any], truth: dict[str, Any]) -> None:
    assert body["status"] == "done", body
    assert body["error"] is None
    progress = body["progress"]
    assert progress["fraction"] == 1.0
    assert progress["bytes_done"] == progress["bytes_total"] > 0
    assert progress["rows_read"] == truth["rows"]
    report = body["report"]
    assert report["rows_read"] == truth["rows"]
    assert report["accepted"] == truth["valid_rows"]
    assert report["rejected"] == truth["rows"] - truth["valid_rows"]
    rejected = {reason: info["lines"] for reason, info in report["rejected_by_reason"].items()}
    assert rejected == {reason: lines for reason, lines in truth["bad_rows"].items() if lines}
    assert report["per_source"] == {k: v for k, v in truth["per_camera"].items() if v}


def test_multipart_upload_with_bad_rows(client: TestClient,
                                        synth: tuple[Path, dict[str, Any]]) -> None:
    path, truth = synth
    assert all(truth["bad_rows"].values())  # every defect kind is present
    with path.open("rb") as fh:
        response = client.post(UPLOADS, files={"file": ("events.csv", fh, "text/csv")})
    assert response.status_code == 202
    accepted = response.json()
    assert accepted["status"] == "queued"
    assert accepted["bytes_total"] == path.stat().st_size
    assert accepted["url"] == f"{UPLOADS}/{accepted['upload_id']}"
    body = wait_upload(client, accepted["upload_id"])
    assert body["filename"] == "events.csv"
    check_report(body, truth)
    assert len(all_events(client)) == truth["valid_rows"]


def test_raw_body_upload(client: TestClient, synth: tuple[Path, dict[str, Any]]) -> None:
    path, truth = synth
    response = client.post(UPLOADS, params={"filename": "x.csv"}, content=path.read_bytes(),
                           headers={"content-type": "text/csv"})
    assert response.status_code == 202
    body = wait_upload(client, response.json()["upload_id"])
    assert body["filename"] == "x.csv"
    check_report(body, truth)
    again = client.post(UPLOADS, params={"filename": "x.csv"}, content=path.read_bytes())
    second = wait_upload(client, again.json()["upload_id"])
    assert second["report"]["accepted"] == 0
    assert second["report"]["duplicates"] == truth["valid_rows"]


@pytest.mark.parametrize("fmt", ["parquet", "ndjson"])
def test_parquet_and_ndjson_uploads(client: TestClient, tmp_path: Path, fmt: str) -> None:
    table = generate_events(CONFIG)
    truth = ground_truth(table, CONFIG)
    path = write_dataset(table, tmp_path, (fmt,))[fmt]
    with path.open("rb") as fh:
        response = client.post(UPLOADS, files={"file": (path.name, fh)})
    assert response.status_code == 202
    body = wait_upload(client, response.json()["upload_id"])
    assert body["status"] == "done", body
    report = body["report"]
    assert report["accepted"] == truth["valid_rows"]
    assert {r: i["count"] for r, i in report["rejected_by_reason"].items()} == {
        r: len(lines) for r, lines in truth["bad_rows"].items() if lines}
    assert body["progress"]["fraction"] == 1.0


def test_upload_options_as_query_and_form(client: TestClient) -> None:
    csv = b"cam,type,when\nhall,detection,22/03/2026 10:30\n"
    response = client.post(UPLOADS, content=csv, params={
        "filename": "local.csv", "map": ["cam=camera_id", "type=event_type", "when=timestamp"],
        "timezone": "Europe/Berlin", "timestamp_format": "%d/%m/%Y %H:%M"})
    assert response.status_code == 202
    assert wait_upload(client, response.json()["upload_id"])["report"]["accepted"] == 1
    ndjson = json.dumps({"camera_id": "hall", "event_type": "motion",
                         "timestamp": "2026-03-22 12:00"}).encode()
    form = client.post(UPLOADS, files={"file": ("motion.data", ndjson)},
                       data={"format": "ndjson", "timezone": "Europe/Berlin"})
    assert form.status_code == 202
    assert wait_upload(client, form.json()["upload_id"])["report"]["accepted"] == 1
    assert [e["ts"] for e in all_events(client)] == ["2026-03-22T09:30:00Z",
                                                      "2026-03-22T11:00:00Z"]


@pytest.mark.parametrize("multipart", [True, False])
def test_empty_file_is_422(client: TestClient, multipart: bool) -> None:
    if multipart:
        response = client.post(UPLOADS, files={"file": ("empty.csv", b"")})
    else:
        response = client.post(UPLOADS, params={"filename": "empty.csv"}, content=b"")
    assert response.status_code == 422
    assert response.json()["field"] == "file"
    assert "empty" in response.json()["error"]


@pytest.mark.parametrize(
    ("files", "data", "field"),
    [
        ({"other": ("a.csv", b"a,b\n1,2\n")}, {}, "file"),
        ({"file": ("a.csv", b"a,b\n1,2\n")}, {"format": "xml"}, "format"),
        ({"file": ("a.csv", b"a,b\n1,2\n")}, {"timezone": "Mars/X"}, "timezone"),
        ({"file": ("a.csv", b"a,b\n1,2\n")}, {"map": "no-equals-sign"}, "map"),
    ],
    ids=["no-file-field", "bad-format", "bad-timezone", "bad-map"],
)
def test_rejected_multipart_upload_closes_its_files(client: TestClient, files: dict[str, Any],
                                                    data: dict[str, str], field: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = client.post(UPLOADS, files=files, data=data)
        gc.collect()
    assert response.status_code == 422
    assert response.json()["field"] == field
    leaked = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaked == [], "the multipart form's spooled files were not closed"


@pytest.mark.parametrize("params", [{"filename": "x.txt"}, {"filename": "x.csv",
                                                           "format": "xml"}])
def test_unknown_format_is_422(client: TestClient, params: dict[str, str]) -> None:
    response = client.post(UPLOADS, params=params, content=b"a,b\n1,2\n")
    assert response.status_code == 422
    assert response.json()["field"] == "format"


def test_bad_timezone_option_is_422(client: TestClient) -> None:
    response = client.post(UPLOADS, params={"filename": "x.csv", "timezone": "Mars/X"},
                           content=b"a,b\n1,2\n")
    assert response.status_code == 422
    assert response.json()["field"] == "timezone"


def test_an_unreadable_file_is_named_as_sent(client: TestClient) -> None:
    response = client.post(UPLOADS, params={"filename": "cameras.parquet"},
                           content=b"this is not parquet")
    assert response.status_code == 202
    upload_id = response.json()["upload_id"]
    body = wait_upload(client, upload_id)
    assert body["status"] == "failed"
    assert "cameras.parquet" in body["error"] and upload_id not in body["error"]


def test_missing_required_column_fails_clearly(client: TestClient) -> None:
    csv = b"time,label\n2026-03-22T10:00:00Z,person\n"
    response = client.post(UPLOADS, params={"filename": "bad.csv"}, content=csv)
    assert response.status_code == 202
    body = wait_upload(client, response.json()["upload_id"])
    assert body["status"] == "failed"
    assert "missing required column" in body["error"]
    assert "camera_id" in body["error"] and "event_type" in body["error"]
    assert body["report"] is None
    assert client.get(EVENTS).json()["events"] == []


def test_unknown_upload_is_404(client: TestClient) -> None:
    response = client.get(f"{UPLOADS}/nope")
    assert response.status_code == 404
    assert response.json()["field"] == "upload_id"


def _queue_by_hand(app: FastAPI, upload_id: str, filename: str, data: bytes) -> None:
    state = app.state.vigil
    state.uploads.spool_path(upload_id, filename).write_bytes(data)
    options = {"format": "csv", "timezone": None, "timestamp_format": None, "column_map": {}}
    upload = UploadState(upload_id=upload_id, filename=filename, status="queued",
                         bytes_total=len(data), options=options)
    state.writer.run(lambda store: store.save_upload(upload))


def test_unfinished_upload_resumes_after_restart(settings: Settings,
                                                 synth: tuple[Path, dict[str, Any]]) -> None:
    from vigil.api import create_app

    path, truth = synth
    first = create_app(settings)
    with TestClient(first) as client:
        _queue_by_hand(first, "resume1", "resume.csv", path.read_bytes())
        _queue_by_hand(first, "gone1", "gone.csv", b"x")
        _queue_by_hand(first, "half1", "half.csv",
                       b"camera_id,event_type,timestamp\nc9,motion,2026-03-22T10:00:00Z\n")
        half = first.state.vigil.store.get_upload("half1")
        assert half is not None
        half.status = "processing"  # the process died while this one was running
        first.state.vigil.writer.run(lambda store: store.save_upload(half))
        first.state.vigil.uploads.spool_path("gone1", "gone.csv").unlink()
        assert client.get(f"{UPLOADS}/resume1").json()["status"] == "queued"
    second = create_app(settings)
    with TestClient(second) as client:
        body = wait_upload(client, "resume1")
        check_report(body, truth)
        assert wait_upload(client, "half1")["report"]["accepted"] == 1
        assert len(all_events(client)) == truth["valid_rows"] + 1
        gone = wait_upload(client, "gone1")
        assert gone["status"] == "failed" and "gone" in gone["error"]
    assert not second.state.vigil.uploads.spool_path("resume1", "resume.csv").exists()


# -- the listing of every upload ---------------------------------------------------------------
GOOD_CSV = b"camera_id,event_type,timestamp\ncam,motion,2026-03-22T10:00:00Z\nc,,bad\n"
TOTALS = ("rows_read", "accepted", "duplicates", "rejected")


def _upload(client: TestClient, filename: str, data: bytes,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Upload ``data`` and wait until it is processed; its ``GET /uploads/{id}`` answer."""
    response = client.post(UPLOADS, params={"filename": filename}, content=data,
                           headers=headers or {})
    assert response.status_code == 202, response.text
    return wait_upload(client, response.json()["upload_id"])


def _listing(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(UPLOADS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_listing_shows_every_upload_newest_first_with_its_totals(client: TestClient) -> None:
    assert _listing(client) == {"uploads": [], "next_before": None}
    first = _upload(client, "first.csv", GOOD_CSV)
    failed = _upload(client, "failed.csv", b"a,b\n1,2\n")
    again = _upload(client, "again.csv", GOOD_CSV)
    listed = _listing(client)
    assert listed["next_before"] is None
    uploads = listed["uploads"]
    assert [u["upload_id"] for u in uploads] == [again["upload_id"], failed["upload_id"],
                                                 first["upload_id"]]
    for summary, full in zip(uploads, (again, failed, first), strict=True):
        assert summary["filename"] == full["filename"]
        assert summary["status"] == full["status"]
        assert summary["created_at"] == full["created_at"]
        assert summary["finished_at"] == full["updated_at"] is not None
        assert summary["bytes_total"] == full["progress"]["bytes_total"]
        assert summary["rows_read"] == full["progress"]["rows_read"]
        assert summary["error"] == full["error"]
        assert summary["uploaded_by"] is None  # no keys in use
        assert summary["url"] == f"{UPLOADS}/{summary['upload_id']}"
        assert "report" not in summary
        for key in ("accepted", "duplicates", "rejected"):
            assert summary[key] == (full["report"][key] if full["report"] else None)
    assert (uploads[2]["accepted"], uploads[2]["rejected"]) == (1, 1)
    assert (uploads[0]["accepted"], uploads[0]["duplicates"]) == (0, 1)
    assert uploads[1]["status"] == "failed" and "missing required column" in uploads[1]["error"]


def test_listing_pages_follow_the_cursor_and_filter_by_status(client: TestClient) -> None:
    made = [_upload(client, f"u{n}.csv", GOOD_CSV if n % 2 else b"a\n1\n")["upload_id"]
            for n in range(5)]
    newest_first = made[::-1]
    seen: list[list[str]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = _listing(client, **params)
        seen.append([u["upload_id"] for u in body["uploads"]])
        if body["next_before"] is None:
            break
        params["before"] = body["next_before"]
    assert seen == [newest_first[0:2], newest_first[2:4], newest_first[4:]]
    done = _listing(client, status="done")["uploads"]
    assert [u["upload_id"] for u in done] == [made[3], made[1]]
    failed = _listing(client, status="failed", limit=2)
    assert [u["upload_id"] for u in failed["uploads"]] == [made[4], made[2]]
    last = _listing(client, status="failed", limit=2, before=failed["next_before"])
    assert ([u["upload_id"] for u in last["uploads"]], last["next_before"]) == ([made[0]], None)
    assert _listing(client, status="queued")["uploads"] == []


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 100_000}, "limit"), ({"limit": "many"}, "limit"),
    ({"status": "finished"}, "status"), ({"before": "not-a-cursor"}, "before"),
    ({"before": "WzEsMl0="}, "before"),  # base64 of [1,2]: not a time and an id
], ids=["limit-0", "limit-huge", "limit-text", "status", "before-garbage", "before-shape"])
def test_listing_bad_parameter_is_422_naming_it(client: TestClient, params: dict[str, Any],
                                                field: str) -> None:
    response = client.get(UPLOADS, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


def test_listing_needs_a_read_key_and_names_the_uploader(app: FastAPI) -> None:
    with TestClient(app) as client:
        ingest = add_key(app, "ingest", name="ops laptop")
        reader = add_key(app, "read")
        assert client.get(UPLOADS).status_code == 401
        assert client.get(UPLOADS, headers={"X-API-Key": "vgl_wrong"}).status_code == 401
        sent = client.post(UPLOADS, params={"filename": "k.csv"}, content=GOOD_CSV,
                           headers={"Authorization": f"Bearer {ingest}"})
        assert sent.status_code == 202
        upload_id = sent.json()["upload_id"]
        headers = {"Authorization": f"Bearer {reader}"}
        deadline = time.monotonic() + 30
        while True:
            response = client.get(UPLOADS, headers=headers)
            assert response.status_code == 200, response.text
            (listed,) = response.json()["uploads"]
            if listed["status"] == "done" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert listed["upload_id"] == upload_id and listed["accepted"] == 1
        key_id = ingest.split("_")[1]  # a key embeds its id: vgl_<id>_<secret>
        assert listed["uploaded_by"] == {"key_id": key_id, "name": "ops laptop"}
        one = client.get(f"{UPLOADS}/{upload_id}", headers=headers)  # the route still works
        assert one.status_code == 200 and one.json()["report"]["accepted"] == 1
