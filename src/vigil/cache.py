"""Cache of computed analytics results: in-process (:class:`MemoryCache`) or Redis.

Read endpoints wrap their computation in :meth:`Cache.get_or_compute`; whoever commits new
data calls :meth:`Cache.invalidate`, after which nothing cached before is served again. Both
backends keep a *generation* number: entries are stored under the generation current when
their computation started, so a result computed from old data and stored after an
invalidation is never served.

Values are JSON-encoded with orjson on both backends, so a hit returns exactly what a miss
returns (the JSON form of the computed value). ``None`` means "miss" and is never cached.

The Redis backend never raises to its caller: when Redis is down or errors, an operation is
served as a miss (the value is computed and returned uncached), ``vigil_cache_errors_total``
counts the failed call and a warning is logged at most every 30 seconds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Self, TypeVar, cast

import orjson
import redis
from prometheus_client import Counter
from redis.backoff import NoBackoff
from redis.retry import Retry

from vigil.metrics import REGISTRY

__all__ = ["CACHE_ERRORS", "CACHE_REQUESTS", "Cache", "MemoryCache", "RedisCache", "open_cache"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]

CACHE_REQUESTS = Counter("vigil_cache_requests", "Analytics cache lookups", ["result"],
                         registry=REGISTRY)
CACHE_ERRORS = Counter("vigil_cache_errors", "Cache backend calls that failed (served as misses)",
                       ["operation"], registry=REGISTRY)


class _Unavailable(Exception):
    """The backend failed; already counted and logged, the operation is a miss."""


def _check_ttl(ttl_seconds: float) -> None:
    """Reject a TTL that would store nothing or forever."""
    if not ttl_seconds > 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds!r}")


class Cache(ABC):
    """A TTL cache of JSON-able values with whole-cache invalidation."""

    def get(self, key: str) -> Any | None:
        """The cached value of ``key``, or None on a miss."""
        return self._lookup(key)[1]

    def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        """Cache ``value`` (JSON-able) under ``key`` for ``ttl_seconds``."""
        _check_ttl(ttl_seconds)
        try:
            generation = self._generation()
        except _Unavailable:
            return
        self._put(generation, key, orjson.dumps(value), ttl_seconds)

    def get_or_compute(self, key: str, compute: Callable[[], T], ttl_seconds: float) -> T:
        """The cached value of ``key``, else ``compute()`` cached for ``ttl_seconds``."""
        _check_ttl(ttl_seconds)
        generation, cached = self._lookup(key)
        if cached is not None:
            return cast(T, cached)
        encoded = orjson.dumps(compute())
        if generation is not None and encoded != b"null":
            self._put(generation, key, encoded, ttl_seconds)
        return cast(T, orjson.loads(encoded))

    @abstractmethod
    def invalidate(self) -> None:
        """Make everything cached so far stale (call after committing new data)."""

    @abstractmethod
    def close(self) -> None:
        """Release the backend's connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _lookup(self, key: str) -> tuple[int | None, Any | None]:
        """The current generation (None if unknown) and the cached value; counts the result."""
        generation: int | None = None
        value: Any | None = None
        with contextlib.suppress(_Unavailable):  # already counted and logged: a miss
            generation = self._generation()
            value = self._fetch(generation, key)
        CACHE_REQUESTS.labels(result="miss" if value is None else "hit").inc()
        return generation, value

    def _put(self, generation: int, key: str, encoded: bytes, ttl_seconds: float) -> None:
        """Store an encoded value; a backend failure was already counted and logged."""
        with contextlib.suppress(_Unavailable):
            self._store(generation, key, encoded, ttl_seconds)

    @abstractmethod
    def _generation(self) -> int:
        """The current generation; raises _Unavailable if the backend failed."""

    @abstractmethod
    def _fetch(self, generation: int, key: str) -> Any | None:
        """The decoded value stored for (generation, key), or None."""

    @abstractmethod
    def _store(self, generation: int, key: str, encoded: bytes, ttl_seconds: float) -> None:
        """Store an encoded value for (generation, key) for ``ttl_seconds``."""


class MemoryCache(Cache):
    """In-process TTL cache holding at most ``max_entries`` values (least recently used go)."""

    def __init__(self, max_entries: int = 512, clock: Clock = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._current = 0
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        """Entries held (an expired one until it is looked up or evicted)."""
        return len(self._entries)

    def invalidate(self) -> None:
        with self._lock:
            self._current += 1
            self._entries.clear()

    def close(self) -> None:
        """Nothing to release."""

    def _generation(self) -> int:
        return self._current

    def _fetch(self, generation: int, key: str) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or generation != self._current:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
        return orjson.loads(entry[1])

    def _store(self, generation: int, key: str, encoded: bytes, ttl_seconds: float) -> None:
        with self._lock:
            if generation != self._current:  # computed from data older than an invalidation
                return
            self._entries[key] = (self._clock() + ttl_seconds, encoded)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)


class RedisCache(Cache):
    """Cache shared by every process that uses the same Redis and ``namespace``.

    ``invalidate`` increments ``<namespace>:generation``; values live under
    ``<namespace>:<generation>:<key>`` with a TTL, so older generations expire by themselves.
    After a failed call Redis is left alone for ``retry_interval`` seconds (operations are
    misses without waiting on it); an invalidation that failed is retried on the next call.
    """

    WARN_INTERVAL = 30.0

    def __init__(self, url: str, *, namespace: str = "vigil:cache", timeout: float = 0.5,
                 retry_interval: float = 5.0, clock: Clock = time.monotonic) -> None:
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),  # one immediate reconnect, e.g. after a restart
        )
        self._namespace = namespace
        self._retry_interval = retry_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._down_until = float("-inf")
        self._warn_after = float("-inf")
        self._unwarned_errors = 0
        self._invalidation_pending = False

    @property
    def _generation_key(self) -> str:
        return f"{self._namespace}:generation"

    def close(self) -> None:
        self._client.close()

    def invalidate(self) -> None:
        try:
            self._command("invalidate", lambda: self._client.incr(self._generation_key))
        except _Unavailable:
            self._invalidation_pending = True

    def _generation(self) -> int:
        if self._invalidation_pending:
            value = self._command("invalidate", lambda: self._client.incr(self._generation_key))
            self._invalidation_pending = False
            return int(value)
        raw = self._command("generation", lambda: self._client.get(self._generation_key))
        return 0 if raw is None else int(raw)

    def _fetch(self, generation: int, key: str) -> Any | None:
        raw = self._command("get", lambda: self._client.get(self._entry_key(generation, key)))
        return None if raw is None else orjson.loads(raw)

    def _store(self, generation: int, key: str, encoded: bytes, ttl_seconds: float) -> None:
        millis = max(1, round(ttl_seconds * 1000))
        self._command("set", lambda: self._client.set(self._entry_key(generation, key),
                                                       encoded, px=millis))

    def _entry_key(self, generation: int, key: str) -> str:
        return f"{self._namespace}:{generation}:{key}"

    def _command(self, operation: str, command: Callable[[], Any]) -> Any:
        """Run one Redis command; on failure count, warn and raise _Unavailable."""
        if self._clock() < self._down_until:
            raise _Unavailable
        try:
            return command()
        except redis.RedisError as error:
            self._failed(operation, error)
            raise _Unavailable from error

    def _failed(self, operation: str, error: redis.RedisError) -> None:
        """Count a failed call, pause Redis use and warn at most every WARN_INTERVAL."""
        CACHE_ERRORS.labels(operation=operation).inc()
        now = self._clock()
        with self._lock:
            self._down_until = now + self._retry_interval
            self._unwarned_errors += 1
            if now < self._warn_after:
                return
            count, self._unwarned_errors = self._unwarned_errors, 0
            self._warn_after = now + self.WARN_INTERVAL
        log.warning("redis cache unavailable (%s: %s); serving uncached results "
                    "(%d failed call(s) since the last warning)", operation, error, count)


def open_cache(redis_url: str | None = None) -> Cache:
    """A RedisCache when a URL is given, else an in-process MemoryCache."""
    if redis_url:
        return RedisCache(redis_url)
    return MemoryCache()
