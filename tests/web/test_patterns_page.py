"""The patterns page against a live server: the list equals the API's, type and entity
filters live in the URL, the evidence is shown, and an empty database says what to do."""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from vigil.patterns.base import Pattern
from vigil.store import open_store

from .conftest import open_page, wait_ready
from .live import LiveServer, start_server

ROWS = "#patterns-table tbody tr"


def api_patterns(live: LiveServer, **filters: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode(filters)
    answer: list[dict[str, Any]] = live.get(f"/api/v1/patterns?{query}")["patterns"]
    return answer


def shown_ids(page: Page) -> list[str]:
    """Every pattern of the list (pressing "Show more", which fetches the next page, while
    it is offered)."""
    while page.locator("#show-more").is_visible():
        before = page.locator(ROWS).count()
        page.click("#show-more")
        page.wait_for_function(f"document.querySelectorAll({ROWS!r}).length > {before}")
    ids: list[str] = page.locator(ROWS).evaluate_all("rs => rs.map(r => r.dataset.patternId)")
    return ids


def pattern_ids(patterns: list[dict[str, Any]]) -> list[str]:
    return [p["pattern_id"] for p in patterns]


@pytest.fixture(scope="module")
def patterns(live: LiveServer) -> list[dict[str, Any]]:
    found = api_patterns(live)
    assert found, "the live server's start-up ran the patterns job on four weeks of data"
    return found


def test_the_rows_equal_the_api_list(page: Page, live: LiveServer,
                                     patterns: list[dict[str, Any]]) -> None:
    open_page(page, live, "patterns")
    assert shown_ids(page) == pattern_ids(patterns)
    first = patterns[0]
    row = page.locator(f"{ROWS}[data-pattern-id='{first['pattern_id']}']")
    assert row.locator(".description").inner_text() == first["description"]
    assert row.locator("td.confidence").inner_text().startswith(
        f"{first['confidence'] * 100:.1f}".removesuffix(".0"))
    assert first["first_seen"] in row.inner_text() and first["last_seen"] in row.inner_text()
    entities = {e for p in patterns for e in p["entities"]}
    options = page.locator("#filter-entity option").evaluate_all(
        "os => os.map(o => o.value).filter(Boolean)")
    assert sorted(options) == sorted(entities)


def test_filtering_by_type_and_entity_follows_the_api_and_the_back_button(
        page: Page, live: LiveServer, patterns: list[dict[str, Any]]) -> None:
    open_page(page, live, "patterns")
    kind = max({p["type"] for p in patterns},
               key=lambda t: sum(p["type"] == t for p in patterns))
    page.select_option("#filter-type", kind)
    page.wait_for_url(re.compile(f"type={kind}"))
    wait_ready(page)
    of_type = api_patterns(live, type=kind)
    assert shown_ids(page) == pattern_ids(of_type) != pattern_ids(patterns)
    entity = of_type[-1]["entities"][0]
    page.select_option("#filter-entity", entity)
    page.wait_for_url(lambda url: f"entity={urllib.parse.quote(entity)}" in url
                      or f"entity={entity}" in url)
    wait_ready(page)
    both = api_patterns(live, type=kind, entity=entity)
    assert both and shown_ids(page) == pattern_ids(both)
    assert all(entity in p["entities"] for p in both)
    page.go_back()
    page.wait_for_url(lambda url: "entity=" not in url and f"type={kind}" in url)
    wait_ready(page)
    assert page.input_value("#filter-entity") == ""
    assert shown_ids(page) == pattern_ids(of_type)


def test_a_shared_url_with_entity_and_confidence_shows_the_filtered_list(
        page: Page, live: LiveServer, patterns: list[dict[str, Any]]) -> None:
    entity = patterns[0]["entities"][-1]
    least = sorted(p["confidence"] for p in patterns)[len(patterns) // 2]
    least = round(least, 2)
    quoted = urllib.parse.quote(entity)
    open_page(page, live, f"patterns?entity={quoted}&min_confidence={least}")
    expected = api_patterns(live, entity=entity, min_confidence=str(least))
    assert expected and shown_ids(page) == pattern_ids(expected)
    assert page.input_value("#filter-entity") == entity
    assert float(page.input_value("#filter-min-confidence")) == pytest.approx(least, abs=0.05)


def test_the_evidence_shown_is_the_patterns_evidence(
        page: Page, live: LiveServer, patterns: list[dict[str, Any]]) -> None:
    pattern = patterns[-1]
    quoted = urllib.parse.quote(pattern["entities"][0])
    open_page(page, live, f"patterns?type={pattern['type']}&entity={quoted}")
    row = page.locator(f"{ROWS}[data-pattern-id='{pattern['pattern_id']}']")
    assert row.count() == 1
    details = row.locator("details")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    keys = details.locator("dt").evaluate_all("ds => ds.map(d => d.dataset.key)")
    evidence = pattern["evidence"]
    assert sorted(keys) == sorted(evidence) and keys[0] == "days_observed"
    values = details.locator("dd").evaluate_all(
        "ds => ds.map(d => [d.dataset.key, d.dataset.value])")
    assert {key: json.loads(value) for key, value in values} == evidence
    days = details.locator("dd[data-key=days_observed]").inner_text()
    assert days == f"{evidence['days_observed']:,}"
    window = f" of {evidence['days_in_window']:,}" if "days_in_window" in evidence else ""
    assert details.locator("summary").inner_text() == f"{days}{window} days observed"


def test_entities_link_to_the_camera_page_of_their_source(
        page: Page, live: LiveServer, patterns: list[dict[str, Any]]) -> None:
    sources = {s["source_id"] for s in live.get("/api/v1/cameras")["sources"]}
    open_page(page, live, "patterns")
    shown_ids(page)
    linked = page.locator("td.entities a").evaluate_all(
        "as => as.map(a => [a.dataset.entity, a.getAttribute('href')])")
    assert linked
    for entity, href in linked:
        source = entity.split(":")[0]
        if source in sources:
            assert href == f"#/camera/{source}"
        else:
            assert href == f"#/patterns?{urllib.parse.urlencode({'entity': entity})}"


def test_a_filter_that_matches_nothing_says_so(page: Page, live: LiveServer,
                                               patterns: list[dict[str, Any]]) -> None:
    assert api_patterns(live, entity="no_such_entity") == []
    open_page(page, live, "patterns?entity=no_such_entity")
    message = page.inner_text("#pattern-list .state.empty")
    assert f"No patterns match these filters (of {len(patterns)} patterns)" in message
    page.click("#pattern-list .state.empty button")
    page.wait_for_url(lambda url: "entity=" not in url)
    wait_ready(page)
    assert len(shown_ids(page)) == len(patterns)


def test_an_unknown_type_in_the_url_is_named(page: Page, live: LiveServer) -> None:
    open_page(page, live, "patterns?type=astrology")
    error = page.inner_text("#pattern-list .state.error")
    assert 'unknown pattern type "astrology"' in error and "time_of_day" in error


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir: Path = tmp_path_factory.mktemp("empty-patterns")
    server = start_server(workdir / "vigil.duckdb", workdir)
    yield server
    server.stop()


def test_an_empty_database_says_how_patterns_come(page: Page,
                                                  empty_server: LiveServer) -> None:
    assert api_patterns(empty_server) == []
    open_page(page, empty_server, "patterns")
    message = page.inner_text("#pattern-list .state.empty")
    for command in ("vigil rollup run daily", "vigil rollup run patterns",
                    "vigil ingest --format ha-history"):
        assert command in message
    assert page.locator(ROWS).count() == 0


def test_the_list_comes_a_page_at_a_time_and_the_chips_from_the_facets(
        page: Page, live: LiveServer, patterns: list[dict[str, Any]]) -> None:
    requested: list[dict[str, list[str]]] = []
    page.on("request", lambda r: requested.append(urllib.parse.parse_qs(
        urllib.parse.urlsplit(r.url).query)) if "/api/v1/patterns?" in r.url else None)
    open_page(page, live, "patterns")
    assert page.locator(ROWS).count() == min(100, len(patterns))
    assert requested == [{"limit": ["100"]}]
    facets = live.get("/api/v1/patterns/facets")
    chips = page.locator("#pattern-types button.chip").evaluate_all(
        "bs => bs.map(b => [b.dataset.type, b.textContent])")
    assert [t for t, _ in chips] == sorted(facets["types"], key=lambda t: -facets["types"][t])
    for kind, text in chips:
        assert text.endswith(f" {facets['types'][kind]:,}")
    assert sum(facets["types"].values()) == len(patterns)
    shown = page.locator("#pattern-shown").inner_text()
    assert shown == f"{min(100, len(patterns)):,} of {len(patterns):,} shown"
    assert shown_ids(page) == pattern_ids(patterns)
    offsets = [int(q["offset"][0]) for q in requested[1:]]
    assert offsets == list(range(100, len(patterns), 100))


MANY = 230


@pytest.fixture(scope="module")
def many_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server holding more patterns than one page: started once (its start-up jobs ran),
    stopped, given ``MANY`` patterns, and started again (its jobs have caught up)."""
    workdir: Path = tmp_path_factory.mktemp("many-patterns")
    db = workdir / "vigil.duckdb"
    start_server(db, workdir).stop()
    day = dt.date(2026, 3, 1)
    store = open_store(str(db))
    try:
        store.replace_patterns([Pattern(
            type=("time_of_day", "sequence")[i % 2], key=f"k{i:03d}",
            entities=(f"light.l{i % 7}",), confidence=0.5 + (i % 10) / 20,
            description=f"pattern {i}", evidence={"days_observed": 5}, first_seen=day,
            last_seen=day) for i in range(MANY)], day, dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    finally:
        store.close()
    server = start_server(db, workdir, scheduler=False)
    yield server
    server.stop()


def test_show_more_fetches_the_next_page(page: Page, many_server: LiveServer) -> None:
    expected = pattern_ids(api_patterns(many_server))
    assert len(expected) == MANY
    offsets: list[str] = []
    page.on("request", lambda r: offsets.extend(urllib.parse.parse_qs(
        urllib.parse.urlsplit(r.url).query).get("offset", [])))
    open_page(page, many_server, "patterns")
    assert page.locator(ROWS).count() == 100 and offsets == []
    assert page.inner_text("#pattern-shown") == f"100 of {MANY} shown"
    assert shown_ids(page) == expected
    assert offsets == ["100", "200"]
    assert page.inner_text("#pattern-shown") == f"{MANY} of {MANY} shown"
    assert not page.locator("#show-more").is_visible()
    kinds = page.locator("#pattern-types button.chip").evaluate_all(
        "bs => bs.map(b => b.dataset.type)")
    assert sorted(kinds) == ["sequence", "time_of_day"]
    options = page.locator("#filter-entity option").evaluate_all(
        "os => os.map(o => o.textContent).filter((t, i) => i > 0)")
    facets = many_server.get("/api/v1/patterns/facets")["entities"]
    assert options == [f"{name} ({n})" for name, n in sorted(facets.items())]
