"""Dashboard page-load benchmarks: ``python -m benchmarks.dashboard [--quick]`` prints JSON.

A data set built the way the dashboard tests build theirs (the generator behind
``vigil generate`` with injected anomalies, ``vigil cameras import``, ``vigil ingest``), but
bigger in full mode: 8 cameras, 56 days, about 1,000,000 events (``--quick``: the 4 default
cameras over 28 days at the generator's own rates, as the tests use). A real ``vigil serve``
on a free loopback port serves it; the system Chromium, driven by Playwright, opens each page
(overview, the busiest camera, anomalies, analytics, patterns, uploads) at its default route.

1. **Page loads** (``dashboard_pages``): per page the time from ``page.goto`` to
   ``main .page[data-ready=true]`` (every section of the page loaded and drawn):
   ``cold_ms`` is the first load on a freshly started server (its result cache and DuckDB's
   buffers empty; the file stays in the OS page cache), ``warm_p50_ms`` the median of the
   next ``warm_loads`` loads of the same page on that server. Every load runs in a fresh
   browser context, so the browser's own cache never hides a request: each load asks the
   server for the page's assets and data, as a newly opened tab does. Per page also the
   API requests of a load and their response bytes (``api_requests``, ``api_bytes``, body
   bytes as transferred, from Playwright's request events) and the same for the static
   assets. ``correct``: every page got ready without an error state or a console error.
2. **Overview requests against sources** (``dashboard_overview_sources``): the overview's API
   requests with the main data set and with a small one holding a different number of
   sources; ``overview_requests_constant`` (and ``correct``) says whether the counts match.

When Playwright or Chromium is missing, both results are ``{"skipped": why}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx

from benchmarks.procs import VigilServer, clean_env
from vigil.synth import DEFAULT_CAMERAS, CameraSpec, SynthConfig

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Request, ViewportSize

Log = Callable[[str], None]

RESULT_KEYS = ("dashboard_pages", "dashboard_overview_sources")
"""Top-level keys of :func:`run_dashboard_benchmarks` (``covers`` for ``run.guarded``)."""

TARGETS: tuple[tuple[str, str, str, str, float, str], ...] = (
    ("dashboard: slowest page ready, warm (median of fresh-tab loads), 1M events, 2 cores",
     "dashboard_pages", "max_warm_p50_ms", "<", 1500.0, "ms"),
    ("dashboard: slowest page ready, cold (first load on a fresh server), 1M events",
     "dashboard_pages", "max_cold_ms", "<", 3000.0, "ms"),
)
"""Bars in the field order of ``benchmarks.targets.Target``: a page that takes longer than
about a second and a half to show its content feels broken to someone checking a camera,
and a first look after a restart should still come within a few seconds."""

CORRECTNESS: tuple[tuple[str, str], ...] = (
    ("dashboard: every page gets ready without an error state or console error",
     "dashboard_pages"),
    ("dashboard: the overview's API requests do not grow with the number of sources",
     "dashboard_overview_sources"),
)
"""Correctness checks in the shape of ``benchmarks.targets.CORRECTNESS``."""

PAGES = ("overview", "camera", "anomalies", "analytics", "patterns", "uploads")
READY = "main .page[data-ready=true]"
ERROR_STATE = "main .page .state.error"
CHROMIUM = os.environ.get("VIGIL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
ANOMALY_KINDS = ("rare_time", "novel_object", "spike", "silence")
READY_TIMEOUT_MS = 60_000
STARTUP_JOBS_TIMEOUT_S = 900.0
LAST_STARTUP_JOB = "patterns"  # the start-up catch-up runs daily, weekly, monthly, patterns
INGEST_TIMEOUT_S = 900.0

EXTRA_CAMERAS: tuple[CameraSpec, ...] = tuple(
    replace(spec, camera_id=f"{spec.camera_id}_2", timezone=zone)
    for spec, zone in zip(DEFAULT_CAMERAS, ("America/Los_Angeles", "Europe/Paris",
                                            "Asia/Tokyo", "America/Sao_Paulo"), strict=True))
"""Four more cameras (the default ones' rhythms, other time zones) for 8-camera data sets."""


@dataclass(frozen=True)
class Size:
    """The data set and the loads of one run."""

    cameras: int
    days: int
    rows: int | None
    """Exact rows of the generated table (None: the generator's own rates)."""
    warm_loads: int
    compare_cameras: int
    """Sources of the small data set the overview's request count is compared with."""
    compare_rows: int = 10_000
    compare_days: int = 9


FULL = Size(cameras=8, days=56, rows=1_000_000, warm_loads=5, compare_cameras=4)
QUICK = Size(cameras=4, days=28, rows=None, warm_loads=5, compare_cameras=8)


def log_stderr(message: str) -> None:
    print(f"[dashboard] {message}", file=sys.stderr, flush=True)


def missing_browser() -> str | None:
    """Why the browser cannot run here, or None when Playwright and Chromium are present."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set VIGIL_CHROMIUM)"
    return None


def cameras_of(count: int) -> tuple[CameraSpec, ...]:
    """The first ``count`` of the default and the extra cameras."""
    specs = DEFAULT_CAMERAS + EXTRA_CAMERAS
    if not 1 <= count <= len(specs):
        raise ValueError(f"cameras must be 1..{len(specs)}, got {count}")
    return specs[:count]


# -- data ----------------------------------------------------------------------------------
def run_vigil(vigil: Path, *args: str | Path, timeout_s: float = INGEST_TIMEOUT_S) -> float:
    """Run one ``vigil`` command to success; its wall time."""
    started = time.perf_counter()
    done = subprocess.run([str(vigil), *map(str, args)], capture_output=True, text=True,
                          env=clean_env(), timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"vigil {' '.join(map(str, args))} exited {done.returncode}:\n"
                           f"{done.stderr[-3000:]}")
    return time.perf_counter() - started


def build_dataset(vigil: Path, folder: Path, cameras: int, days: int, rows: int | None
                  ) -> tuple[Path, dict[str, Any]]:
    """Generate camera events with injected anomalies (the last week free for them), import
    the cameras' time zones, ingest (which scores): the DuckDB file and how it was built."""
    from vigil.cli.generate import generate_dataset

    data, db = folder / "data", folder / "vigil.duckdb"
    config = SynthConfig(days=days, rows=rows, cameras=cameras_of(cameras),
                         anomalies=ANOMALY_KINDS, anomaly_warmup_days=max(0, days - 7))
    started = time.perf_counter()
    paths = generate_dataset(config, data)
    generate_s = time.perf_counter() - started
    generated = json.loads(paths["truth"].read_text(encoding="utf-8"))
    import_s = run_vigil(vigil, "cameras", "import", paths["cameras"], "--db", db)
    ingest_s = run_vigil(vigil, "ingest", paths["csv"], "--db", db, "--quiet")
    return db, {"cameras": cameras, "days": days, "rows_requested": rows,
                "anomalies_injected": len(generated.get("anomalies", [])),
                "csv_mib": round(paths["csv"].stat().st_size / 2**20, 1),
                "generate_seconds": round(generate_s, 2),
                "cameras_import_seconds": round(import_s, 2),
                "ingest_seconds": round(ingest_s, 2)}


# -- the server ----------------------------------------------------------------------------
@contextmanager
def served(vigil: Path, db: Path, workdir: Path) -> Iterator[tuple[VigilServer, float]]:
    """A started ``vigil serve`` whose start-up jobs are done, and the seconds that took."""
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with VigilServer(vigil, db, workdir) as server:
        wait_startup_jobs(server)
        yield server, time.perf_counter() - started


def wait_startup_jobs(server: VigilServer, timeout_s: float = STARTUP_JOBS_TIMEOUT_S) -> None:
    """Return once the start-up catch-up of the scheduled jobs has finished."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=30.0) as client:
        while time.monotonic() < deadline:
            jobs = client.get(f"{server.url}/api/v1/jobs").raise_for_status().json()["jobs"]
            by_name = {job["name"]: job for job in jobs}
            if (by_name.get(LAST_STARTUP_JOB, {}).get("last_run") is not None
                    and not any(job["running"] for job in jobs)):
                return
            time.sleep(0.2)
    raise RuntimeError(f"the start-up jobs did not finish in {timeout_s:.0f} s:\n"
                       f"{server.log_tail()}")


def server_facts(server: VigilServer) -> dict[str, Any]:
    """Events stored, the sources and the busiest source, from the API."""
    with httpx.Client(timeout=30.0) as client:
        sources = client.get(f"{server.url}/api/v1/cameras").raise_for_status().json()["sources"]
    busiest = max(sources, key=lambda s: s["event_count"])
    return {"events_stored": sum(s["event_count"] for s in sources), "sources": len(sources),
            "busiest_source": busiest["source_id"], "busiest_events": busiest["event_count"]}


# -- one page load -------------------------------------------------------------------------
def _transfer_bytes(request: Request) -> int:
    """Response body bytes as transferred (encoded), 0 when unknown."""
    return max(0, int(request.sizes().get("responseBodySize", 0)))


@dataclass
class Traffic:
    """A page's requests (sent, and finished or failed) and its errors, from its events."""

    sent: list[Request] = field(default_factory=list)
    ended: list[Request] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        self.sent.append(request)

    def on_finished(self, request: Request) -> None:
        self.ended.append(request)

    def on_failed(self, request: Request) -> None:
        self.ended.append(request)
        self.errors.append(f"request failed: {request.url}")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error}")


def load_page(browser: Browser, url: str, route: str) -> dict[str, Any]:
    """Open ``url/#/route`` in a fresh browser context; milliseconds from ``goto`` to the
    ready page, its API and static requests, and any error it showed."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB", timezone_id="UTC")
    try:
        page = context.new_page()
        page.set_default_timeout(READY_TIMEOUT_MS)
        traffic = Traffic()
        page.on("request", traffic.on_request)
        page.on("requestfinished", traffic.on_finished)
        page.on("requestfailed", traffic.on_failed)
        page.on("console", traffic.on_console)
        page.on("pageerror", traffic.on_page_error)
        sent, ended, errors = traffic.sent, traffic.ended, traffic.errors
        started = time.perf_counter()
        page.goto(f"{url}/#/{route}", wait_until="commit")
        page.wait_for_selector(READY)
        elapsed_ms = (time.perf_counter() - started) * 1000
        deadline = time.monotonic() + 10.0  # the events of answered requests may lag a bit
        while len(ended) < len(sent) and time.monotonic() < deadline:
            page.wait_for_timeout(10)
        shown = page.locator(ERROR_STATE).count()
        if shown:
            errors.append(f"{shown} error state(s): "
                          + "; ".join(page.locator(ERROR_STATE).all_inner_texts())[:300])
        api = [r for r in ended if urlparse(r.url).path.startswith("/api/")]
        static = [r for r in ended if r not in api and r.url.startswith(url)]
        return {"ms": round(elapsed_ms, 1), "api_requests": len(api),
                "api_bytes": sum(map(_transfer_bytes, api)),
                "api_paths": dict(Counter(urlparse(r.url).path for r in api)),
                "static_requests": len(static), "static_bytes": sum(map(_transfer_bytes, static)),
                "unfinished_requests": len(sent) - len(ended), "errors": errors}
    finally:
        context.close()


def measure_page(browser: Browser, url: str, route: str, warm_loads: int) -> dict[str, Any]:
    """The first (cold) load of a page on this server, then ``warm_loads`` more."""
    cold = load_page(browser, url, route)
    warm = [load_page(browser, url, route) for _ in range(warm_loads)]
    errors = cold["errors"] + [e for load in warm for e in load["errors"]]
    return {"route": route, "cold_ms": cold["ms"], "warm_ms": [w["ms"] for w in warm],
            "warm_p50_ms": round(statistics.median(w["ms"] for w in warm), 1),
            "api_requests": cold["api_requests"], "api_bytes": cold["api_bytes"],
            "api_requests_warm": warm[-1]["api_requests"], "api_bytes_warm": warm[-1]["api_bytes"],
            "api_paths": cold["api_paths"],
            "static_requests": cold["static_requests"], "static_bytes": cold["static_bytes"],
            "errors": sorted(set(errors))}


# -- the groups ----------------------------------------------------------------------------
def page_routes(busiest: str) -> dict[str, str]:
    """Each page's default route (the camera page shows the busiest camera)."""
    return {name: f"camera/{busiest}" if name == "camera" else name for name in PAGES}


def measure_pages(browser: Browser, vigil: Path, db: Path, workdir: Path, warm_loads: int,
                  log: Log) -> dict[str, Any]:
    """``dashboard_pages``: every page cold on a freshly started server, then warm (the
    first start also runs the catch-up jobs over the new data: ``server_start_seconds[0]``)."""
    pages: dict[str, dict[str, Any]] = {}
    starts: list[float] = []
    facts: dict[str, Any] = {}
    for name in PAGES:
        with served(vigil, db, workdir / "serve") as (server, start_s):
            starts.append(round(start_s, 2))
            if not facts:
                facts = server_facts(server)
                log(f"{facts['events_stored']:,} events stored; first start (with the "
                    f"catch-up jobs) {start_s:.1f} s")
            route = page_routes(facts["busiest_source"])[name]
            pages[name] = measure_page(browser, server.url, route, warm_loads)
        shown = pages[name]
        log(f"{name}: cold {shown['cold_ms']:.0f} ms, warm p50 {shown['warm_p50_ms']:.0f} ms, "
            f"{shown['api_requests']} API requests, {shown['api_bytes']:,} bytes")
    flat: dict[str, Any] = {}
    for name, shown in pages.items():
        for metric in ("cold_ms", "warm_p50_ms", "api_requests", "api_bytes"):
            flat[f"{name}_{metric}"] = shown[metric]
    slowest_warm = max(pages, key=lambda n: pages[n]["warm_p50_ms"])
    slowest_cold = max(pages, key=lambda n: pages[n]["cold_ms"])
    errors = {name: shown["errors"] for name, shown in pages.items() if shown["errors"]}
    return {**facts, **flat,
            "max_warm_p50_ms": pages[slowest_warm]["warm_p50_ms"], "slowest_warm": slowest_warm,
            "max_cold_ms": pages[slowest_cold]["cold_ms"], "slowest_cold": slowest_cold,
            "pages": pages, "errors": errors, "correct": not errors,
            "server_start_seconds": starts,
            "method": "time from page.goto to main .page[data-ready=true]; cold = the first "
                      "load after the server was (re)started for that page (result cache "
                      "and DuckDB buffers empty, OS page cache warm), warm = the median of "
                      f"the next {warm_loads} loads; every load in a fresh browser context "
                      "(no browser cache), the browser itself already running; bytes are "
                      "response bodies as transferred"}


def overview_sources(browser: Browser, vigil: Path, sources: int, main: dict[str, Any],
                     size: Size, workdir: Path, log: Log) -> dict[str, Any]:
    """``dashboard_overview_sources``: the overview's API requests with the main data set
    (``sources`` sources; ``main`` is its measured overview) and on a small data set with
    ``size.compare_cameras`` sources."""
    db, built = build_dataset(vigil, workdir, size.compare_cameras, size.compare_days,
                              size.compare_rows)
    with served(vigil, db, workdir / "serve") as (server, _):
        other = load_page(browser, server.url, "overview")
    counts = {sources: main["api_requests"], size.compare_cameras: other["api_requests"]}
    few, many = sorted(counts)
    constant = counts[few] == counts[many]
    log(f"overview API requests: {counts[few]} with {few} sources, {counts[many]} with {many}")
    return {"sources_few": few, "requests_few": counts[few],
            "sources_many": many, "requests_many": counts[many],
            "overview_requests_constant": constant, "correct": constant,
            "api_paths": {str(sources): main["api_paths"],
                          str(size.compare_cameras): other["api_paths"]},
            "compare_data": built,
            "errors": other["errors"]}


def run_dashboard_benchmarks(workdir: Path, size: Size = FULL, vigil: Path | None = None,
                             log: Log = log_stderr) -> dict[str, dict[str, Any]]:
    """Every dashboard benchmark in ``workdir``; JSON-ready figures under
    :data:`RESULT_KEYS` (``{"skipped": why}`` when there is no browser)."""
    why = missing_browser()
    if why:
        return {key: {"skipped": why} for key in RESULT_KEYS}
    from playwright.sync_api import sync_playwright

    vigil = vigil or Path(sys.executable).absolute().with_name("vigil")
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = _load()
    log(f"building {size.cameras} cameras x {size.days} days"
        + (f", {size.rows:,} rows" if size.rows else ""))
    db, built = build_dataset(vigil, workdir / "main", size.cameras, size.days, size.rows)
    log(f"built in {built['generate_seconds'] + built['ingest_seconds']:.0f} s")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pages = measure_pages(browser, vigil, db, workdir / "main", size.warm_loads, log)
            built["first_start_seconds"] = pages["server_start_seconds"][0]
            compared = overview_sources(browser, vigil, pages["sources"],
                                        pages["pages"]["overview"], size, workdir / "compare",
                                        log)
            version = browser.version
        finally:
            browser.close()
    machine = {"load_average_before": load_before, "load_average_after": _load(),
               "browser": f"Chromium {version}", "browser_args": CHROMIUM_ARGS,
               "note": "the browser, the server and the runner share the machine's cores"}
    return {"dashboard_pages": {**pages, "build": built, "machine": machine},
            "dashboard_overview_sources": {**compared, "machine": machine}}


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help="the tests' data set: 4 cameras, 28 days")
    options = parser.parse_args(argv)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-dashboard-") as tmp:
        results = run_dashboard_benchmarks(Path(tmp), QUICK if options.quick else FULL)
    print(json.dumps({"timestamp_utc": stamp, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
