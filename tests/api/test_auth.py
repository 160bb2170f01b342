"""API keys: open until a key exists, then 401 / 403 by scope."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .helpers import EVENTS, add_key, event

CAMERA = "/api/v1/cameras/cam1"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_everything_open_without_keys(client: TestClient) -> None:
    assert client.post(EVENTS, json=event()).status_code == 200
    assert client.get(EVENTS).status_code == 200
    assert client.get("/api/v1/cameras").status_code == 200
    assert client.put(CAMERA, json={"timezone": "Europe/Berlin"}).status_code == 200
    assert client.get("/metrics").status_code == 200
    upload = client.post("/api/v1/uploads", params={"filename": "a.csv"},
                         content=b"camera_id,event_type,timestamp\nc,motion,2026-03-22T10:00:00Z\n")
    assert upload.status_code == 202


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", EVENTS), ("POST", EVENTS), ("GET", "/api/v1/cameras"), ("GET", CAMERA),
     ("PUT", CAMERA), ("GET", "/api/v1/sources"), ("POST", "/api/v1/uploads"),
     ("GET", "/api/v1/uploads/x"), ("GET", "/metrics")],
)
def test_no_key_is_401_once_keys_exist(app: FastAPI, client: TestClient, method: str,
                                       path: str) -> None:
    add_key(app, "admin")
    response = client.request(method, path, json={"timezone": "UTC"})
    assert response.status_code == 401
    assert response.json()["field"] == "authorization"
    assert response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_key_is_401(app: FastAPI, client: TestClient) -> None:
    key = add_key(app, "admin")
    for headers in (bearer(key + "x"), {"X-API-Key": "vgl_nope"}, {"Authorization": "Bearer "},
                    {"Authorization": f"Basic {key}"}):
        response = client.get(EVENTS, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["field"] == "authorization"


def test_read_key_reads_but_cannot_write(app: FastAPI, client: TestClient) -> None:
    key = add_key(app, "read", "dashboard")
    assert client.get(EVENTS, headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/cameras", headers=bearer(key)).status_code == 200
    assert client.get("/metrics", headers=bearer(key)).status_code == 200
    response = client.post(EVENTS, json=event(), headers=bearer(key))
    assert response.status_code == 403
    assert response.json()["field"] == "authorization"
    assert "read" in response.json()["error"]
    upload = client.post("/api/v1/uploads", params={"filename": "a.csv"}, content=b"a\n",
                         headers=bearer(key))
    assert upload.status_code == 403
    assert client.get(EVENTS, headers=bearer(key)).json()["events"] == []


def test_ingest_key_posts_but_cannot_administer(app: FastAPI, client: TestClient) -> None:
    key = add_key(app, "ingest")
    response = client.post(EVENTS, json=event(), headers=bearer(key))
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert len(client.get(EVENTS, headers=bearer(key)).json()["events"]) == 1
    put = client.put(CAMERA, json={"timezone": "Europe/Berlin"}, headers=bearer(key))
    assert put.status_code == 403
    assert put.json()["field"] == "authorization"
    admin = add_key(app, "admin")
    assert client.get(CAMERA, headers=bearer(admin)).json()["timezone"] == "UTC"


def test_admin_key_may_put_cameras(app: FastAPI, client: TestClient) -> None:
    key = add_key(app, "admin")
    put = client.put(CAMERA, json={"timezone": "Europe/Berlin"}, headers=bearer(key))
    assert put.status_code == 200
    assert put.json()["timezone"] == "Europe/Berlin"
    assert client.post(EVENTS, json=event(), headers=bearer(key)).status_code == 200


def test_healthz_needs_no_key(app: FastAPI, client: TestClient) -> None:
    add_key(app, "admin")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_bearer_and_x_api_key_both_work(app: FastAPI, client: TestClient) -> None:
    key = add_key(app, "ingest")
    for headers in (bearer(key), {"authorization": f"bearer {key}"}, {"X-API-Key": key}):
        assert client.get(EVENTS, headers=headers).status_code == 200, headers
    assert client.post(EVENTS, json=event(), headers={"X-API-Key": key}).status_code == 200
