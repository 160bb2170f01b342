"""The analytics cache: in-process with a fake clock, and shared through a real Redis."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from servers import RedisServer, free_port, start_redis
from vigil.cache import Cache, MemoryCache, RedisCache, open_cache
from vigil.metrics import REGISTRY


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Computation:
    """A compute function that counts its calls and returns a new value each time."""

    def __init__(self, value: Any = "v") -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.value


def counter_total(name: str, **labels: str) -> float:
    """The sum of a counter's samples whose labels include ``labels``."""
    return sum(sample.value for family in REGISTRY.collect() if family.name == name
               for sample in family.samples
               if sample.name == f"{name}_total" and labels.items() <= sample.labels.items())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def namespace() -> str:
    """Keys of this test only, on the shared Redis."""
    return f"test:{uuid.uuid4().hex}"


@pytest.fixture
def make_redis_cache(redis_server: RedisServer, namespace: str
                     ) -> Iterator[Callable[..., RedisCache]]:
    """Open RedisCaches ("workers") on the session Redis; all closed after the test."""
    opened: list[RedisCache] = []

    def make(**options: Any) -> RedisCache:
        cache = RedisCache(redis_server.url, namespace=namespace, **options)
        opened.append(cache)
        return cache

    yield make
    for cache in opened:
        cache.close()


@pytest.fixture
def raw_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain client to look at what the cache stored."""
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


# --- behaviour shared by both backends -------------------------------------------------------

@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest, clock: FakeClock) -> Cache:
    if request.param == "memory":
        return MemoryCache(clock=clock)
    make: Callable[..., RedisCache] = request.getfixturevalue("make_redis_cache")
    return make()


def test_miss_then_hit(cache: Cache) -> None:
    compute = Computation({"peak_hours": [3, 4]})
    hits, misses = counter_total("vigil_cache_requests", result="hit"), counter_total(
        "vigil_cache_requests", result="miss")
    assert cache.get("kpis") is None
    assert cache.get_or_compute("kpis", compute, 60) == {"peak_hours": [3, 4]}
    assert cache.get_or_compute("kpis", compute, 60) == {"peak_hours": [3, 4]}
    assert cache.get("kpis") == {"peak_hours": [3, 4]}
    assert compute.calls == 1
    assert counter_total("vigil_cache_requests", result="miss") - misses == 2
    assert counter_total("vigil_cache_requests", result="hit") - hits == 2


def test_set_then_get(cache: Cache) -> None:
    cache.set("a", [1, "x", None], 60)
    assert cache.get("a") == [1, "x", None]
    assert cache.get("b") is None


def test_invalidate_makes_everything_stale(cache: Cache) -> None:
    cache.set("a", 1, 60)
    cache.set("b", 2, 60)
    cache.invalidate()
    assert cache.get("a") is None and cache.get("b") is None
    assert cache.get_or_compute("a", Computation(10), 60) == 10
    assert cache.get("a") == 10


def test_result_computed_across_an_invalidation_is_not_served(cache: Cache) -> None:
    def compute_while_data_arrives() -> int:
        cache.invalidate()  # new data committed while the old data was being read
        return 1

    assert cache.get_or_compute("a", compute_while_data_arrives, 60) == 1
    assert cache.get("a") is None


def test_hit_and_miss_return_the_same_json_form(cache: Cache) -> None:
    compute = Computation({"range": (1, 2)})
    assert cache.get_or_compute("a", compute, 60) == {"range": [1, 2]}
    assert cache.get_or_compute("a", compute, 60) == {"range": [1, 2]}


def test_none_is_not_cached(cache: Cache) -> None:
    compute = Computation(None)
    assert cache.get_or_compute("a", compute, 60) is None
    assert cache.get_or_compute("a", compute, 60) is None
    assert compute.calls == 2


@pytest.mark.parametrize("ttl", [0, -1.0])
def test_ttl_must_be_positive(cache: Cache, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        cache.set("a", 1, ttl)
    with pytest.raises(ValueError, match="ttl_seconds"):
        cache.get_or_compute("a", Computation(), ttl)


# --- in-process cache ------------------------------------------------------------------------

def test_memory_entries_expire_with_the_clock(clock: FakeClock) -> None:
    cache = MemoryCache(clock=clock)
    cache.set("a", 1, 10)
    clock.advance(9.9)
    assert cache.get("a") == 1
    clock.advance(0.1)
    assert cache.get("a") is None
    assert len(cache) == 0


def test_memory_evicts_the_least_recently_used(clock: FakeClock) -> None:
    cache = MemoryCache(max_entries=2, clock=clock)
    cache.set("a", 1, 60)
    cache.set("b", 2, 60)
    assert cache.get("a") == 1  # a is now more recent than b
    cache.set("c", 3, 60)
    assert len(cache) == 2
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_memory_rejects_an_empty_bound() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        MemoryCache(max_entries=0)


def test_open_cache_picks_the_backend(redis_server: RedisServer) -> None:
    with open_cache(None) as memory, open_cache(redis_server.url) as shared:
        assert isinstance(memory, MemoryCache)
        assert isinstance(shared, RedisCache)


# --- Redis shared between workers ------------------------------------------------------------

def test_redis_values_are_shared_between_workers(
        make_redis_cache: Callable[..., RedisCache]) -> None:
    first, second = make_redis_cache(), make_redis_cache()
    compute = Computation({"total_events": 7})
    first.get_or_compute("kpis", compute, 60)
    assert second.get_or_compute("kpis", compute, 60) == {"total_events": 7}
    assert compute.calls == 1


def test_redis_invalidation_is_seen_by_another_worker(
        make_redis_cache: Callable[..., RedisCache]) -> None:
    reader, writer = make_redis_cache(), make_redis_cache()
    reader.set("kpis", {"total_events": 7}, 60)
    writer.invalidate()
    assert reader.get("kpis") is None
    assert reader.get_or_compute("kpis", Computation({"total_events": 8}), 60) == {
        "total_events": 8}
    assert writer.get("kpis") == {"total_events": 8}


def test_redis_entries_carry_their_ttl(make_redis_cache: Callable[..., RedisCache],
                                       raw_redis: redis.Redis, namespace: str) -> None:
    cache = make_redis_cache()
    cache.set("a", 1, 0.2)
    assert 0 < raw_redis.pttl(f"{namespace}:0:a") <= 200
    deadline = time.monotonic() + 5
    while cache.get("a") is not None:  # Redis expires on its own clock
        assert time.monotonic() < deadline, "entry did not expire"
        time.sleep(0.02)


def test_redis_old_generations_expire_by_themselves(
        make_redis_cache: Callable[..., RedisCache], raw_redis: redis.Redis,
        namespace: str) -> None:
    cache = make_redis_cache()
    cache.set("a", 1, 30)
    cache.invalidate()
    assert raw_redis.get(f"{namespace}:generation") == b"1"
    assert 0 < raw_redis.ttl(f"{namespace}:0:a") <= 30


# --- Redis going away ------------------------------------------------------------------------

def errors_total() -> float:
    return counter_total("vigil_cache_errors")


def cache_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if r.name == "vigil.cache" and r.levelno == logging.WARNING]


def test_redis_outage_serves_uncached_values_then_recovers(
        clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="vigil.cache")
    server = start_redis()
    try:
        with RedisCache(server.url, clock=clock, retry_interval=5) as cache:
            compute = Computation({"occupancy": 3})
            assert cache.get_or_compute("a", compute, 60) == {"occupancy": 3}
            errors = errors_total()

            server.halt()
            assert_outage_is_a_miss(cache, clock, compute)
            assert errors_total() > errors
            assert len(cache_warnings(caplog)) == 1
            cache.invalidate()  # fails now, is applied once Redis is back

            server.start()
            clock.advance(5)
            assert_works_again(cache, server)
    finally:
        server.stop()


def assert_outage_is_a_miss(cache: RedisCache, clock: FakeClock, compute: Computation) -> None:
    """Values are computed and returned, nothing raises, one warning per 30 s."""
    calls = compute.calls
    for _ in range(3):
        assert cache.get_or_compute("a", compute, 60) == {"occupancy": 3}
        assert cache.get("a") is None
        cache.set("b", 1, 60)
        clock.advance(6)  # past retry_interval: every round really calls Redis
    assert compute.calls == calls + 3


def assert_works_again(cache: RedisCache, server: RedisServer) -> None:
    """Redis is used again and the pending invalidation was applied."""
    compute = Computation([1])
    assert cache.get_or_compute("a", compute, 60) == [1]
    assert cache.get_or_compute("a", compute, 60) == [1]
    assert compute.calls == 1
    with redis.Redis.from_url(server.url) as raw:
        assert raw.get("vigil:cache:generation") == b"1"


def test_redis_errors_are_counted_each_time_but_warned_rarely(
        clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="vigil.cache")
    url = f"redis://127.0.0.1:{free_port()}/0"  # nobody listens there
    with RedisCache(url, clock=clock, retry_interval=0) as cache:
        errors = errors_total()
        for _ in range(4):
            assert cache.get_or_compute("a", Computation(1), 60) == 1
            clock.advance(10)
        assert errors_total() - errors == 4
        warnings = [record.getMessage() for record in cache_warnings(caplog)]
        assert len(warnings) == 2  # at 0 s and at 30 s
        assert "(1 failed call(s)" in warnings[0] and "(3 failed call(s)" in warnings[1]


def test_redis_pauses_after_a_failure(clock: FakeClock) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with RedisCache(url, clock=clock, retry_interval=5) as cache:
        errors = errors_total()
        for _ in range(5):
            assert cache.get_or_compute("a", Computation(1), 60) == 1
        assert errors_total() - errors == 1
        clock.advance(5)
        cache.get("a")
        assert errors_total() - errors == 2
