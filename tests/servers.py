"""Throwaway real servers for the tests: PostgreSQL, Redis, Mosquitto and InfluxDB.

Each ``start_*`` function launches one server on a free loopback port in a fresh temp dir,
waits until it answers and returns a handle with its ``url``, ``restart()`` (same port, same
dir) and ``stop()`` (by pid, then the dir is removed). A missing binary or a server that does
not come up raises :class:`ServerError` with the reason and the tail of the server's log —
tests never skip for want of a server; ``scripts/install-servers`` installs them.

The pytest fixtures at the bottom (``postgres_server``, ``redis_server``, ``mosquitto_server``,
``influx_server``, once per session) are pulled in by ``tests/conftest.py``, which also gives
each test a fresh database (``pg_url``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, Self, TypeVar

import httpx
import psycopg
import pytest
import redis
from psycopg import sql

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
START_ATTEMPTS = 3  # a free port can be taken by someone else before the server binds it
INSTALL_HINT = "run scripts/install-servers (make test does)"
S = TypeVar("S", bound="Server")


class ServerError(RuntimeError):
    """A test server is missing or did not start."""


class SetupError(ServerError):
    """A failure that another port would not fix (missing binary, initdb)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_binary(path: str) -> str:
    """The full path of an executable, or a SetupError naming it."""
    found = shutil.which(path, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if found is None:
        raise SetupError(f"{path} not found; {INSTALL_HINT}")
    return found


def log_tail(log: Path, lines: int = 30) -> str:
    """The last lines of a server log, for error messages."""
    try:
        text = log.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_pid_gone(pid: int, timeout: float) -> bool:
    """Poll until a process that is not our child has exited; False on timeout."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class Server:
    """One server process on a fixed port in its own temp dir.

    Subclasses implement ``_launch`` (start the process, set ``self.pid``) and ``_ready``.
    """

    name = "server"
    binaries: tuple[str, ...] = ()

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.log = workdir / "server.log"
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """How clients reach the server."""
        raise NotImplementedError

    def _launch(self) -> None:
        """Start the server process (non-blocking where possible)."""
        raise NotImplementedError

    def _ready(self) -> bool:
        """Whether the server answers its protocol."""
        raise NotImplementedError

    def _spawn(self, argv: list[str]) -> None:
        """Run argv in the background with output appended to the log."""
        argv = [require_binary(argv[0]), *argv[1:]]
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.workdir, start_new_session=True,
            )
        self.pid = self._process.pid

    def start(self, timeout: float = READY_TIMEOUT) -> None:
        """Launch and wait until the server answers, or raise ServerError."""
        self._launch()
        deadline = time.monotonic() + timeout
        while not self._ready():
            if self._process is not None and self._process.poll() is not None:
                self._fail(f"exited with code {self._process.returncode}")
            if time.monotonic() > deadline:
                self._fail(f"not ready after {timeout:.0f} s")
            time.sleep(0.02)

    def _fail(self, reason: str) -> NoReturn:
        """Stop what was started and raise with the log tail."""
        tail = log_tail(self.log)
        self.halt()
        raise ServerError(f"{self.name} on port {self.port} {reason}; log tail:\n{tail}")

    def halt(self) -> None:
        """Stop the process by pid and wait for it; the dir stays (see restart)."""
        if self._process is not None:
            self._halt_child(self._process)
        elif self.pid is not None:
            self._halt_pid(self.pid)
        self._process = None
        self.pid = None

    def _halt_child(self, process: subprocess.Popen[bytes]) -> None:
        """Terminate our child process and reap it."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _halt_pid(self, pid: int) -> None:
        """Stop a daemonised server (not our child) with its fast-shutdown signal."""
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return
        if not wait_pid_gone(pid, STOP_TIMEOUT):
            os.kill(pid, signal.SIGKILL)
            wait_pid_gone(pid, STOP_TIMEOUT)

    def restart(self) -> None:
        """Stop and start again on the same port with the same data dir."""
        self.halt()
        self.start()

    def stop(self) -> None:
        """Stop the server and remove its temp dir."""
        try:
            self.halt()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class PostgresServer(Server):
    """PostgreSQL 15 run as the postgres user through pg_ctl."""

    name = "postgresql"
    binaries = tuple(str(PG_BIN / tool) for tool in ("initdb", "pg_ctl", "postgres"))

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def datadir(self) -> Path:
        """The cluster's data directory."""
        return self.workdir / "data"

    def _as_postgres(self, argv: list[str]) -> subprocess.CompletedProcess[bytes]:
        """Run a command as the postgres user (via runuser when we are root)."""
        prefix = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        return subprocess.run(prefix + argv, cwd=self.workdir, env=env, capture_output=True,
                              timeout=60, check=False)

    def initdb(self) -> None:
        """Create the cluster, or raise with initdb's output."""
        done = self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.datadir),
                                  "-U", PG_USER, "-A", "trust", "-E", "UTF8"])
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise SetupError(f"initdb failed ({done.returncode}):\n{output}")

    def _launch(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.workdir} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        done = self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir),
                                  "-l", str(self.log), "-o", options, "-w", "-t", "30", "start"])
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            self._fail(f"pg_ctl start failed ({done.returncode}: {output})")
        self.pid = self._postmaster_pid()

    def _postmaster_pid(self) -> int | None:
        """The pid pg_ctl's postmaster wrote, if it is running."""
        try:
            return int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def halt(self) -> None:
        if self.pid is None:  # pg_ctl may have failed after the postmaster started
            self.pid = self._postmaster_pid()
        super().halt()

    def _ready(self) -> bool:
        return self.pid is not None and port_open(self.port)


class RedisServer(Server):
    """redis-server without persistence."""

    name = "redis"
    binaries = ("redis-server",)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _launch(self) -> None:
        self._spawn(["redis-server", "--port", str(self.port),
                     "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", str(self.workdir)])

    def _ready(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5,
                             socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


class MosquittoServer(Server):
    """Mosquitto 2 with on-disk persistence, so queued messages survive ``restart()``."""

    name = "mosquitto"
    binaries = ("mosquitto",)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        """The broker's config file."""
        return self.workdir / "mosquitto.conf"

    def _write_config(self) -> None:
        """Listener, anonymous access and persistence under the temp dir."""
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir}/\n"
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"  # do not drop to user mosquitto
            "log_dest stderr\n"
        )

    def _launch(self) -> None:
        self._write_config()
        self._spawn(["mosquitto", "-c", str(self.config)])

    def _ready(self) -> bool:
        return port_open(self.port)


class InfluxServer(Server):
    """InfluxDB 1.x with meta, data and WAL under the temp dir."""

    name = "influxdb"
    binaries = ("influxd",)

    def __init__(self, workdir: Path, port: int) -> None:
        super().__init__(workdir, port)
        self.rpc_port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        """The server's config file."""
        return self.workdir / "influxdb.conf"

    def _write_config(self) -> None:
        """Loopback ports, dirs under the temp dir, no reporting and no self-monitoring."""
        self.config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{self.workdir}/meta"\n  logging-enabled = false\n'
            f'[data]\n  dir = "{self.workdir}/data"\n  wal-dir = "{self.workdir}/wal"\n'
            "  query-log-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
        )

    def _launch(self) -> None:
        self._write_config()
        self._spawn(["influxd", "run", "-config", str(self.config)])

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False


def _make_workdir(prefix: str, owner: str | None = None) -> Path:
    """A fresh temp dir (outside pytest's private tmp, so another user can own it)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"vigil-{prefix}-"))
    if owner is not None and os.geteuid() == 0:
        shutil.chown(workdir, owner, owner)
    return workdir


def _start(kind: type[S], owner: str | None = None,
           prepare: Callable[[S], None] | None = None) -> S:
    """Create a server in a new dir and start it, retrying on another port if it fails."""
    for binary in kind.binaries:
        require_binary(binary)
    failures: list[str] = []
    for _ in range(START_ATTEMPTS):
        server = kind(_make_workdir(kind.name, owner), free_port())
        try:
            if prepare is not None:
                prepare(server)
            server.start()
        except BaseException as error:
            server.stop()
            if not isinstance(error, ServerError) or isinstance(error, SetupError):
                raise
            failures.append(str(error))
            continue
        return server
    raise ServerError("\n---\n".join(failures))


def start_postgres() -> PostgresServer:
    """A running PostgreSQL 15 cluster; connect as ``postgres`` without password."""
    return _start(PostgresServer, owner=PG_USER, prepare=PostgresServer.initdb)


def start_redis() -> RedisServer:
    """A running redis-server without persistence."""
    return _start(RedisServer)


def start_mosquitto() -> MosquittoServer:
    """A running Mosquitto broker with persistence (``restart()`` keeps queued messages)."""
    return _start(MosquittoServer)


def start_influx() -> InfluxServer:
    """A running InfluxDB 1.x answering /ping, /write and /query."""
    return _start(InfluxServer)


def create_database(url: str, name: str) -> str:
    """Create an empty database on the server of ``url``; return the URL that points at it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str, name: str) -> None:
    """Drop a database, disconnecting whoever still uses it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(sql.Identifier(name)))


@contextmanager
def _running(server: S) -> Iterator[S]:
    """``server`` until the block ends, then stopped."""
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL 15 cluster for the whole session."""
    with _running(start_postgres()) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session (tests use distinct keys or flush db)."""
    with _running(start_redis()) as server:
        yield server


@pytest.fixture(scope="session")
def mosquitto_server() -> Iterator[MosquittoServer]:
    """One Mosquitto broker for the whole session (tests use distinct topics)."""
    with _running(start_mosquitto()) as server:
        yield server


@pytest.fixture(scope="session")
def influx_server() -> Iterator[InfluxServer]:
    """One InfluxDB for the whole session (tests use distinct databases)."""
    with _running(start_influx()) as server:
        yield server
