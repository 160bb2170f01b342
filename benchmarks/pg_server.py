"""A throwaway PostgreSQL 15 cluster for the benchmarks: loopback only, removed afterwards.

The cluster runs as the ``postgres`` user (via ``runuser`` when the runner is root), on a
free port, with its data directory in a fresh temporary directory. It starts with settings
suited to bulk loads (:data:`BULK_LOAD_SETTINGS`) but keeps ``fsync`` and
``synchronous_commit`` on: the benchmarks measure durable ingest, so every commit waits for
its WAL flush as it would in production.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.procs import LOOPBACK, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
COMMAND_TIMEOUT_S = 120.0

BULK_LOAD_SETTINGS: Mapping[str, str] = {
    "shared_buffers": "512MB",
    "max_wal_size": "4GB",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
}
"""Server settings for every benchmark cluster; durability settings stay at their defaults."""


def as_postgres(argv: list[str]) -> list[str]:
    """Run as the ``postgres`` user (via ``runuser`` when we are root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--", *argv]
    return argv


def run_checked(argv: list[str], timeout: float = COMMAND_TIMEOUT_S) -> str:
    """Run ``argv``; its stdout, or ``RuntimeError`` with the end of its stderr."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} failed ({done.returncode}): "
                           f"{done.stderr.strip()[-2000:]}")
    return done.stdout


def skip_reason() -> str | None:
    """Why a cluster cannot be started here, or ``None`` when it can."""
    if not (PG_BIN / "initdb").exists():
        return "PostgreSQL server binaries not installed"
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        return f"no {PG_USER!r} user to run the PostgreSQL server as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != PG_USER:
        return f"needs root (to runuser -u {PG_USER}) or to run as {PG_USER}"
    if shutil.which("runuser") is None and os.geteuid() == 0:
        return "runuser not found"
    return None


@dataclass
class PgCluster:
    """A running throwaway cluster (see :func:`throwaway_postgres`)."""

    port: int
    root: Path
    version: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    """The configured settings as the running server reports them (``SHOW``)."""

    @property
    def url(self) -> str:
        """URL of the ``postgres`` database."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://{PG_USER}@{LOOPBACK}:{self.port}/{database}"

    def psql(self, database: str = "postgres") -> list[str]:
        """A ``psql`` command line for ``database`` (append ``-c SQL``)."""
        return [str(PG_BIN / "psql"), "-X", "-q", "-h", LOOPBACK, "-p", str(self.port),
                "-U", PG_USER, "-d", database, "-v", "ON_ERROR_STOP=1"]

    def query(self, sql: str, database: str = "postgres") -> str:
        """The unaligned, tuples-only output of ``sql``."""
        return run_checked([*self.psql(database), "-At", "-c", sql]).strip()

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        run_checked([*self.psql(), "-c", f'CREATE DATABASE "{name}"'])
        return self.database_url(name)

    def postmaster_pid(self) -> int | None:
        """The server's main process (its backends are its children), if running."""
        try:
            return int((self.root / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def describe(self) -> dict[str, object]:
        """What to record beside the figures."""
        return {"server_version": self.version, "settings": dict(self.settings)}


@contextmanager
def throwaway_postgres(settings: Mapping[str, str] = BULK_LOAD_SETTINGS) -> Iterator[PgCluster]:
    """Start a fresh cluster with ``settings``; stop it (fast) and delete it on exit.

    Check :func:`skip_reason` first. ``initdb --no-sync`` only skips syncing the freshly
    created template files; the server itself runs with ``settings``.
    """
    entry = pwd.getpwnam(PG_USER)
    root = Path(tempfile.mkdtemp(prefix="vigil-bench-pg-"))
    os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    cluster = PgCluster(port=free_port(), root=root)
    pg_ctl = str(PG_BIN / "pg_ctl")
    started = False
    try:
        run_checked(as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER,
                                 "-A", "trust", "-E", "UTF8", "--no-sync"]))
        options = " ".join([f"-p {cluster.port}", f"-c listen_addresses={LOOPBACK}",
                            f"-c unix_socket_directories={root}",
                            *(f"-c {name}={value}" for name, value in settings.items())])
        run_checked(as_postgres([pg_ctl, "-D", str(data), "-o", options,
                                 "-l", str(root / "pg.log"), "-w", "-t", "60", "start"]))
        started = True
        cluster.version = cluster.query("SHOW server_version")
        cluster.settings = {name: cluster.query(f"SHOW {name}") for name in settings}
        yield cluster
    finally:
        if started:
            subprocess.run(as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "-t", "60",
                                        "stop"]), capture_output=True, timeout=COMMAND_TIMEOUT_S,
                           check=False)
        shutil.rmtree(root, ignore_errors=True)
