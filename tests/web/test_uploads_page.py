"""The Uploads page: drop or pick a camera export, follow its progress, read its report."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Locator, Page, expect

from .conftest import Console, open_page, wait_ready
from .live import LiveServer, create_key, run_vigil, start_server

DONE_TIMEOUT_MS = 60_000
CAMERAS = ("front_door", "backyard", "garage", "shop_entrance")
# Uploads go to their own source names and to days long before the live data's range, so
# the other tests' figures (and default ranges) do not change.
START = "2025-06-02"

RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const bar of [change.target, ...(change.addedNodes || [])]) {
        if (bar instanceof HTMLProgressElement) {
          window.progressSeen.push([bar.dataset.phase, bar.value, bar.max]);
        }
      }
    }
  }).observe(document.getElementById("upload-runs"),
    { subtree: true, childList: true, attributes: true, attributeFilter: ["value"] });
}"""


def camera_export(folder: Path, source: str, seed: int, days: int,
                  bad_fraction: float = 0.05) -> Path:
    """A generated camera export with some bad rows, every camera renamed to ``source``."""
    run_vigil("generate", folder, "--days", str(days), "--start", START, "--seed", str(seed),
              "--bad-fraction", str(bad_fraction))
    text = (folder / "events.csv").read_text()
    cameras = "|".join(CAMERAS)
    renamed = re.sub(f',"({cameras})",', f',"{source}",', text)
    path = folder / f"{source}.csv"
    path.write_text(renamed)
    return path


def drop(page: Page, path: Path) -> None:
    """Drop ``path`` on the drop zone: a real drop event carrying a File built in the page."""
    page.evaluate("""([name, text]) => {
      const data = new DataTransfer();
      data.items.add(new File([text], name, { type: "text/csv" }));
      const zone = document.getElementById("dropzone");
      for (const type of ["dragenter", "dragover", "drop"]) {
        zone.dispatchEvent(new DragEvent(type, { dataTransfer: data, bubbles: true,
          cancelable: true }));
      }
    }""", [path.name, path.read_text()])


def finished_run(page: Page, selector: str) -> Locator:
    """The upload run ``selector`` once its report is drawn."""
    run = page.locator(selector)
    expect(run).to_have_attribute("data-status", "done", timeout=DONE_TIMEOUT_MS)
    return run


def check_report(run: Locator, live: LiveServer, source: str) -> dict[str, Any]:
    """The drawn report is the API's: totals, rejected lines per reason, sources, link."""
    upload_id = run.get_attribute("data-upload-id")
    answer: dict[str, Any] = live.get(f"/api/v1/uploads/{upload_id}")
    assert answer["status"] == "done"
    report = answer["report"]
    for key in ("rows_read", "accepted", "duplicates", "rejected"):
        assert run.locator(f'#report-tiles .tile[data-kpi="{key}"]').get_attribute(
            "data-value") == str(report[key])
    shown = {row.get_attribute("data-reason"): row.locator("td.lines").get_attribute(
        "data-lines") for row in run.locator("#rejected-table tbody tr").all()}
    assert shown == {reason: ",".join(map(str, info["lines"]))
                     for reason, info in report["rejected_by_reason"].items()}
    first_reason = next(iter(report["rejected_by_reason"].values()))
    assert str(first_reason["lines"][0]) in run.locator("#rejected-table").inner_text()
    bar = run.locator("progress")
    assert bar.get_attribute("data-phase") == "done"
    assert bar.evaluate("b => b.value === b.max")
    if report["per_source"]:
        assert list(report["per_source"]) == [source]
        link = run.locator("#report-analytics a").get_attribute("href") or ""
        assert f"source={source}" in link and f"from={START[:8]}" in link
    return answer


def check_history_row(page: Page, live: LiveServer, upload_id: str) -> Locator:
    """The upload's row in the list of all uploads shows the API's figures and links to it."""
    row = page.locator(f'#history-table tbody tr[data-upload-id="{upload_id}"]')
    expect(row).to_have_attribute("data-status", "done", timeout=DONE_TIMEOUT_MS)
    answer = live.get(f"/api/v1/uploads/{upload_id}")
    for key in ("rows_read", "accepted", "duplicates", "rejected"):
        cell = row.locator(f'td[data-field="{key}"]')
        assert cell.get_attribute("data-value") == str(answer["report"][key]), key
    link = row.locator("a")
    assert link.inner_text() == answer["filename"]
    assert (link.get_attribute("href") or "").endswith(f"?upload={upload_id}")
    return row


def test_dropped_file_is_reported_with_its_bad_lines(page: Page, live: LiveServer,
                                                     tmp_path: Path) -> None:
    csv = camera_export(tmp_path, "upload_drop", seed=21, days=2)
    open_page(page, live, "uploads")
    drop(page, csv)
    run = finished_run(page, ".upload-run[data-status]")
    answer = check_report(run, live, "upload_drop")
    report = answer["report"]
    assert report["rejected"] > 0 and report["accepted"] > 0 and report["duplicates"] == 0
    check_history_row(page, live, answer["upload_id"])

    assert f"upload={answer['upload_id']}" in page.url  # so a reload shows it again
    page.reload()
    wait_ready(page)
    shown = page.locator(f'.upload-run[data-upload-id="{answer["upload_id"]}"]')
    expect(shown).to_have_attribute("data-status", "done")
    check_report(shown, live, "upload_drop")

    drop(page, csv)  # the same rows again: all duplicates, the same bad lines
    again = page.locator(".upload-run").first
    expect(again).to_have_attribute("data-status", "done", timeout=DONE_TIMEOUT_MS)
    assert again.get_attribute("data-upload-id") != answer["upload_id"]
    second = check_report(again, live, "upload_drop")["report"]
    assert (second["accepted"], second["duplicates"]) == (0, report["accepted"])
    check_history_row(page, live, answer["upload_id"])
    newest = check_history_row(page, live, again.get_attribute("data-upload-id") or "")
    listed = page.locator("#history-table tbody tr").evaluate_all(
        "rows => rows.map((row) => row.dataset.uploadId)")
    assert listed.index(newest.get_attribute("data-upload-id")) < listed.index(
        answer["upload_id"])  # newest first

    again.locator("#report-analytics a").click()  # the charts of what was just uploaded
    page.wait_for_selector("#kpi-tiles .tile")
    wait_ready(page)
    query = parse_qs(urlsplit(page.url).fragment.split("?", 1)[1])
    assert query["source"] == ["upload_drop"]
    kpis = live.get(f"/api/v1/analytics/kpis?from={query['from'][0]}&to={query['to'][0]}"
                    "&camera=upload_drop")["kpis"]
    visits = page.locator('#kpi-tiles .tile[data-kpi="complete_sessions"]')
    assert visits.get_attribute("data-value") == str(kpis["complete_sessions"]) != "0"
    assert page.locator("#occupancy-chart .mark.point").count() > 0


def test_picked_large_file_shows_progress_until_done(page: Page, live: LiveServer,
                                                     tmp_path: Path) -> None:
    csv = camera_export(tmp_path, "upload_big", seed=22, days=20, bad_fraction=0.01)
    assert csv.stat().st_size > 2_500_000
    open_page(page, live, "uploads")
    page.evaluate(RECORD_PROGRESS)
    network = page.context.new_cdp_session(page)  # a slower link makes the sending visible
    network.send("Network.enable")
    network.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": 2 * 1024 * 1024})
    page.set_input_files("#file-input", str(csv))
    run = finished_run(page, f'.upload-run[data-filename="{csv.name}"]')
    check_report(run, live, "upload_big")
    seen = page.evaluate("window.progressSeen")
    sending = [value for phase, value, _ in seen if phase == "sending"]
    assert any(0 < value < 100 for value in sending), seen
    assert sending == sorted(sending)
    phase, value, top = seen[-1]
    assert (phase, value) == ("done", top)


def test_refused_and_unreadable_files_are_explained(page: Page, live: LiveServer,
                                                   console: Console, tmp_path: Path) -> None:
    console.allow(r"status of 422")
    open_page(page, live, "uploads")
    notes = tmp_path / "notes.txt"
    notes.write_text("timestamp,camera_id,event_type\n")
    page.set_input_files("#file-input", str(notes))
    refused = page.locator('.upload-run[data-filename="notes.txt"]')
    expect(refused).to_have_attribute("data-status", "refused")
    error = refused.locator(".upload-error")
    assert error.get_attribute("data-status") == "422"
    assert "field: format" in error.inner_text()

    columns = tmp_path / "columns.csv"
    columns.write_text("a,b\n1,2\n")
    page.set_input_files("#file-input", str(columns))
    failed = page.locator('.upload-run[data-filename="columns.csv"]')
    expect(failed).to_have_attribute("data-status", "failed")
    answer = live.get(f"/api/v1/uploads/{failed.get_attribute('data-upload-id')}")
    assert answer["status"] == "failed"
    assert answer["error"] in failed.locator(".upload-error").inner_text()


def test_read_only_key_is_told_it_needs_the_ingest_scope(page: Page, console: Console,
                                                         tmp_path: Path) -> None:
    db = tmp_path / "keys.duckdb"
    key = create_key(db, "read")
    server = start_server(db, tmp_path)
    try:
        console.allow(r"status of 403")
        page.add_init_script(f"sessionStorage.setItem('vigil.apiKey', {key!r})")
        open_page(page, server, "uploads")
        expect(page.locator("#upload-history .state.empty")).to_have_count(1)  # none yet
        csv = tmp_path / "one.csv"
        csv.write_text('timestamp,camera_id,event_type\n2025-06-02T10:00:00Z,cam,entry\n')
        page.set_input_files("#file-input", str(csv))
        error = page.locator(".upload-run .upload-error")
        expect(error).to_contain_text("ingest scope")
        assert error.get_attribute("data-status") == "403"
        assert page.locator("#upload-new-key").is_visible()
    finally:
        server.stop()


def post_upload(server: LiveServer, filename: str, data: bytes) -> str:
    """Upload ``data`` through the API (as a script would); its upload id."""
    request = urllib.request.Request(
        f"{server.url}/api/v1/uploads?filename={filename}", data=data, method="POST",
        headers={"Content-Type": "text/csv"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        upload_id: str = json.loads(answer.read())["upload_id"]
        return upload_id


def test_every_upload_is_listed_twenty_at_a_time(page: Page, tmp_path: Path) -> None:
    """Uploads made elsewhere (not in this tab) are listed, newest first, with "Load more"."""
    server = start_server(tmp_path / "list.duckdb", tmp_path)
    try:
        made = [post_upload(server, f"cam_{n:02d}.csv", (
            "timestamp,camera_id,event_type\n"
            + "".join(f"{START}T10:{m:02d}:00Z,list_{n},motion\n" for m in range(n + 1))
            + ("bad,row\n" if n % 3 == 0 else "")).encode()) for n in range(23)]
        deadline = time.monotonic() + DONE_TIMEOUT_MS / 1000
        while any(u["status"] != "done" for u in
                  server.get("/api/v1/uploads?limit=100")["uploads"]):
            assert time.monotonic() < deadline, "the uploads were not processed in time"
            time.sleep(0.1)
        open_page(page, server, "uploads")
        rows = page.locator("#history-table tbody tr")
        newest_first = made[::-1]
        shown = rows.evaluate_all("rows => rows.map((row) => row.dataset.uploadId)")
        assert shown == newest_first[:20]
        for upload_id in (made[-1], made[3]):
            check_history_row(page, server, upload_id)
        page.click("#history-more")
        expect(rows).to_have_count(23)
        assert rows.evaluate_all("rows => rows.map((row) => row.dataset.uploadId)") == (
            newest_first)
        check_history_row(page, server, made[0])  # on the second page: 1 row, 1 rejected
        expect(page.locator("#history-more")).to_have_count(0)  # nothing older is left

        rows.filter(has_text="cam_05.csv").locator("a").click()  # its report opens
        shown_run = page.locator(f'.upload-run[data-upload-id="{made[5]}"]')
        expect(shown_run).to_have_attribute("data-status", "done")
        assert shown_run.locator('#report-tiles .tile[data-kpi="accepted"]').get_attribute(
            "data-value") == "6"
    finally:
        server.stop()
