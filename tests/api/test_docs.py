"""The API documentation works offline: its scripts are served by Vigil itself."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_docs_page_loads_its_assets_from_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+\.(?:js|css))['"]""", page.text)
    assert assets, page.text[:500]
    for url in assets:
        assert url.startswith("/"), f"{url} would need the internet"
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) > 1000


def test_openapi_lists_the_event_paths(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/events", "/api/v1/uploads", "/api/v1/cameras/{source_id}",
            "/healthz", "/metrics"} <= set(paths)
