"""Subprocess helpers for the benchmarks: free ports, measured runs, a served Vigil.

Everything binds to 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

LOOPBACK = "127.0.0.1"
RSS_POLL_SECONDS = 0.1
"""How often a measured process tree's RSS is sampled. The root's peak is exact anyway (the
kernel's ``VmHWM``); polling more often (each poll walks every process to find the
children) took CPU from the measured process on a 2-core machine."""


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def tree_rss(proc: psutil.Process) -> int:
    """Resident set size of ``proc`` and all its descendants, in bytes (0 once gone)."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += int(p.memory_info().rss)
        except psutil.Error:
            continue
    return total


def vm_hwm(pid: int) -> int:
    """Peak resident set size of ``pid``'s address space (``VmHWM``), in bytes; 0 if gone.

    The kernel keeps this high-water mark per address space, so it is exact up to the moment
    of reading and starts afresh at ``exec``.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return 0


class RssSampler:
    """Polls a process tree in a thread: the peak of its summed RSS and the root's VmHWM."""

    def __init__(self, pid: int, interval: float = RSS_POLL_SECONDS) -> None:
        self.tree_peak = 0
        self.hwm = 0
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        try:
            self._proc: psutil.Process | None = psutil.Process(pid)
        except psutil.Error:
            self._proc = None
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        if self._proc is None:
            return
        while not self._stop.is_set():
            self.tree_peak = max(self.tree_peak, tree_rss(self._proc))
            self.hwm = max(self.hwm, vm_hwm(self._pid))
            self._stop.wait(self._interval)


@dataclass(frozen=True)
class MeasuredRun:
    """Outcome of :func:`run_measured`."""

    returncode: int
    wall_s: float
    vm_hwm_bytes: int
    """The child's ``VmHWM`` at the last poll before it exited (kernel high-water mark)."""
    sampled_tree_peak_bytes: int
    """Peak of the sampled RSS of the child and its descendants (polled every 20 ms)."""
    stdout: str
    stderr: str

    @property
    def peak_rss_bytes(self) -> int:
        return max(self.vm_hwm_bytes, self.sampled_tree_peak_bytes)


def run_measured(argv: Sequence[str], cwd: Path, timeout_s: float,
                 env: dict[str, str] | None = None) -> MeasuredRun:
    """Run ``argv`` to completion; wall time from spawn to exit, and its peak memory.

    Peak memory comes from polling ``/proc`` (``VmHWM`` and the tree's RSS), not from
    ``ru_maxrss``: on Linux a child's ``ru_maxrss`` also counts the parent's resident size at
    spawn time, and this parent holds the generated data. Output goes to files so no pipe
    can fill up. The child is killed when ``timeout_s`` passes.
    """
    out_path, err_path = cwd / "run.stdout", cwd / "run.stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        actions = [(os.POSIX_SPAWN_DUP2, out.fileno(), 1), (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        started = time.perf_counter()
        pid = os.posix_spawn(argv[0], list(argv), env if env is not None else dict(os.environ),
                             file_actions=actions)
    sampler = RssSampler(pid).start()
    deadline = started + timeout_s
    status = 0
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        time.sleep(0.005)
    wall = time.perf_counter() - started
    sampler.stop()
    return MeasuredRun(
        returncode=os.waitstatus_to_exitcode(status),
        wall_s=wall,
        vm_hwm_bytes=sampler.hwm,
        sampled_tree_peak_bytes=sampler.tree_peak,
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
    )


class VigilServer:
    """``vigil serve`` on a free loopback port, in a throwaway working directory."""

    def __init__(self, vigil: Path, db: Path, workdir: Path, startup_timeout_s: float = 60.0
                 ) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._argv = [str(vigil.absolute()), "serve", "--host", LOOPBACK, "--port", str(self.port),
                      "--db", str(db)]
        self._workdir = workdir
        self._timeout = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = workdir / "server.log"

    def __enter__(self) -> VigilServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> None:
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(self._argv, cwd=self._workdir, stdout=log,
                                          stderr=subprocess.STDOUT, env=clean_env())
        deadline = time.monotonic() + self._timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise RuntimeError(f"vigil serve exited early:\n{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"vigil serve did not answer /healthz in {self._timeout:.0f} s")

    def stop(self, timeout_s: float = 30.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        text = self._log.read_text(encoding="utf-8", errors="replace") if self._log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def clean_env() -> dict[str, str]:
    """The environment without ``VIGIL_*`` settings, so only the command line configures."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
