"""HTTP benchmarks against a real ``vigil serve``: batch throughput and single-event latency."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.procs import VigilServer
from vigil.synth import SynthConfig, generate_events

BATCH_SIZE = 1000
CLIENT_THREADS = 2
WARMUP_BATCHES = 5
REQUEST_TIMEOUT_S = 60.0
HEADERS = {"content-type": "application/json"}
Log = Callable[[str], None]


def synth_events(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` synthetic events as dicts, null fields left out (as a client would send them)."""
    table = generate_events(SynthConfig(rows=n, seed=seed))
    return [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def _post_all(url: str, bodies: list[bytes], results: list[dict[str, Any]],
              barrier: threading.Barrier, errors: list[str]) -> None:
    latencies: list[float] = []
    accepted = 0
    try:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
            barrier.wait(timeout=60)
            for body in bodies:
                t0 = time.perf_counter()
                response = client.post(url, content=body, headers=HEADERS)
                latencies.append(time.perf_counter() - t0)
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}: {response.text[:300]}")
                    return
                accepted += int(response.json()["accepted"])
    except Exception as exc:  # reported: the benchmark fails visibly
        errors.append(repr(exc))
    finally:
        results.append({"accepted": accepted, "latencies": latencies})


def post_concurrently(url: str, bodies: list[bytes], threads: int
                      ) -> tuple[float, list[dict[str, Any]]]:
    """POST ``bodies`` from ``threads`` threads, each its own keep-alive client; the wall
    time from the start barrier, and each thread's accepted count and latencies."""
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    barrier = threading.Barrier(threads + 1)
    workers = [threading.Thread(target=_post_all, name=f"client-{t}",
                                args=(url, bodies[t::threads], results, barrier, errors))
               for t in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=60)
    started = time.perf_counter()
    for worker in workers:
        worker.join(timeout=600)
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"batch POST failed: {errors[0]}")
    return wall, results


def batch_throughput(server: VigilServer, events: list[dict[str, Any]], batches: int,
                     warmup: list[dict[str, Any]]) -> dict[str, Any]:
    """POST ``batches`` JSON arrays of :data:`BATCH_SIZE` events from 2 threads; events/s."""
    url = f"{server.url}/api/v1/events"
    bodies = [json.dumps(events[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]).encode()
              for i in range(batches)]
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        for i in range(WARMUP_BATCHES):
            chunk = warmup[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]
            client.post(url, content=json.dumps(chunk).encode(), headers=HEADERS)
    try:
        wall, results = post_concurrently(url, bodies, CLIENT_THREADS)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}\n{server.log_tail()}") from exc
    sent = batches * BATCH_SIZE
    accepted = sum(int(r["accepted"]) for r in results)
    lat = sorted(x for r in results for x in r["latencies"])
    return {
        "batches": batches,
        "batch_size": BATCH_SIZE,
        "client_threads": CLIENT_THREADS,
        "events": sent,
        "body_mib_total": round(sum(map(len, bodies)) / 1024 / 1024, 1),
        "wall_s": round(wall, 3),
        "events_per_s": round(sent / wall),
        "batch_latency_p50_ms": round(percentile(lat, 50) * 1000, 2),
        "batch_latency_p99_ms": round(percentile(lat, 99) * 1000, 2),
        "accepted": accepted,
        "correct": accepted == sent,
    }


def single_latency(server: VigilServer, events: list[dict[str, Any]], warmup: int
                   ) -> dict[str, Any]:
    """Sequential single-event POSTs on one keep-alive client; latency after a warm-up."""
    url = f"{server.url}/api/v1/events"
    bodies = [json.dumps(event).encode() for event in events]
    latencies: list[float] = []
    accepted = 0
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        for i, body in enumerate(bodies):
            t0 = time.perf_counter()
            response = client.post(url, content=body, headers=HEADERS)
            elapsed = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"single POST: HTTP {response.status_code}: "
                                   f"{response.text[:300]}")
            if i >= warmup:
                latencies.append(elapsed)
                accepted += int(response.json()["accepted"])
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "warmup_requests": warmup,
        "p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "p90_ms": round(percentile(latencies, 90) * 1000, 3),
        "p99_ms": round(percentile(latencies, 99) * 1000, 3),
        "max_ms": round(latencies[-1] * 1000, 3) if latencies else math.nan,
        "mean_ms": round(sum(latencies) / n * 1000, 3) if n else math.nan,
        "requests_per_s": round(n / sum(latencies)) if n else 0,
        "accepted": accepted,
        "correct": accepted == n,
    }


def run_http_benchmarks(vigil: Path, batches: int, posts: int, warmup_posts: int, tmp: Path,
                        log: Log) -> dict[str, Any]:
    """Benchmarks 4-5 against one server on a fresh database."""
    workdir = tmp / "serve"
    workdir.mkdir(parents=True, exist_ok=True)
    batch_n = batches * BATCH_SIZE
    single_n = warmup_posts + posts
    warm_n = WARMUP_BATCHES * BATCH_SIZE
    events = synth_events(batch_n + single_n + warm_n, seed=11)
    warm = events[:warm_n]
    batch_events = events[warm_n:warm_n + batch_n]
    single_events = events[warm_n + batch_n:]
    with VigilServer(vigil, workdir / "serve.duckdb", workdir) as server:
        log(f"vigil serve up on {server.url} (pid {server.pid})")
        throughput = batch_throughput(server, batch_events, batches, warm)
        log(f"HTTP batches: {throughput['events_per_s']:,} events/s")
        latency = single_latency(server, single_events, warmup_posts)
        log(f"single POST: p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms")
    return {"http_batch_ingest": throughput, "http_single_latency": latency}
