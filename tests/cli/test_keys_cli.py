"""``vigil keys``: a created key authenticates against the API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from vigil.api import create_app
from vigil.config import load_settings
from vigil.store import DuckDBStore

from .conftest import Invoke


def test_created_admin_key_authenticates(vigil: Invoke, db: Path, workdir: Path) -> None:
    result = vigil("keys", "create", "--scope", "admin", "--name", "ops", "--db", db)
    assert result.exit_code == 0, result.stderr
    key = result.stdout.strip()
    assert "\n" not in key and key.startswith("vgl_")
    assert key not in result.stderr
    listed = vigil("keys", "list", "--db", db)
    assert listed.exit_code == 0 and "admin" in listed.stdout and key not in listed.stdout
    app = create_app(load_settings(db=str(db), upload_dir=str(workdir / "up")))
    with TestClient(app) as client:
        assert client.get("/api/v1/cameras").status_code == 401
        assert client.get("/api/v1/cameras", headers={"X-API-Key": key + "x"}).status_code == 401
        auth = {"Authorization": f"Bearer {key}"}
        assert client.get("/api/v1/cameras", headers=auth).status_code == 200
        put = client.put("/api/v1/cameras/c1", json={"timezone": "Europe/Berlin"}, headers=auth)
        assert put.status_code == 200


def test_read_key_scope_is_enforced(vigil: Invoke, db: Path, workdir: Path) -> None:
    key = vigil("keys", "create", "--scope", "read", "--db", db).stdout.strip()
    app = create_app(load_settings(db=str(db), upload_dir=str(workdir / "up")))
    with TestClient(app) as client:
        auth = {"X-API-Key": key}
        assert client.get("/api/v1/events", headers=auth).status_code == 200
        assert client.post("/api/v1/events", headers=auth, json={}).status_code == 403


def test_bad_scope_exits_2(vigil: Invoke, db: Path) -> None:
    result = vigil("keys", "create", "--scope", "root", "--db", db)
    assert result.exit_code == 2
    assert "--scope" in result.stderr
    assert result.stdout == ""
    if db.exists():
        store = DuckDBStore(db)
        try:
            assert store.count_api_keys() == 0
        finally:
            store.close()
