"""GET /api/v1/ingest/dead-letters: paging, parameter errors, keys, and MQTT end to end."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from fastapi import FastAPI
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from vigil.api import create_app
from vigil.config import Settings
from vigil.store import DeadLetter

from .helpers import EVENTS, add_key, event

URL = "/api/v1/ingest/dead-letters"
RECEIVED = dt.datetime(2026, 3, 22, 10, 0, tzinfo=dt.UTC)


def letter(n: int) -> DeadLetter:
    payload = f'{{"broken": {n}'
    return DeadLetter(dead_letter_id=None, received_at=RECEIVED + dt.timedelta(seconds=n),
                      transport="mqtt", topic="vigil/events", reason="invalid_json",
                      message=f"not JSON ({n})", payload=payload, payload_bytes=len(payload))


def add_letters(app: FastAPI, count: int) -> list[int]:
    """Store ``count`` dead letters through the app's writer; their ids, oldest first."""
    return [app.state.vigil.writer.run(lambda store, n=n: store.add_dead_letter(letter(n)))
            for n in range(count)]


def test_no_dead_letters(client: TestClient) -> None:
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {"dead_letters": [], "next_before_id": None, "total": 0}


def test_pages_newest_first(app: FastAPI, client: TestClient) -> None:
    ids = add_letters(app, 5)
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        body = client.get(URL, params=params).json()
        pages += 1
        assert body["total"] == 5
        seen += body["dead_letters"]
        if body["next_before_id"] is None:
            break
        params["before_id"] = body["next_before_id"]
    assert pages == 3
    assert [item["dead_letter_id"] for item in seen] == ids[::-1]
    newest = seen[0]
    assert newest == {
        "dead_letter_id": ids[-1], "received_at": newest["received_at"], "transport": "mqtt",
        "topic": "vigil/events", "reason": "invalid_json", "message": "not JSON (4)",
        "payload": '{"broken": 4', "payload_bytes": 12,
    }
    assert dt.datetime.fromisoformat(newest["received_at"]) == RECEIVED + dt.timedelta(seconds=4)


def test_a_full_last_page_says_there_is_no_more(app: FastAPI, client: TestClient) -> None:
    add_letters(app, 2)
    body = client.get(URL, params={"limit": 2}).json()
    assert len(body["dead_letters"]) == 2
    assert body["next_before_id"] is None


def test_bad_parameters_name_the_field(client: TestClient) -> None:
    for params, field in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                          ({"limit": "many"}, "limit"), ({"before_id": "x"}, "before_id"),
                          ({"before_id": 0}, "before_id")):
        response = client.get(URL, params=params)
        assert response.status_code == 422, params
        assert response.json()["field"] == field
        assert response.json()["error"].startswith(f"{field}: ")


def test_needs_a_read_key_once_keys_exist(app: FastAPI, client: TestClient) -> None:
    read = add_key(app, "read")
    assert client.get(URL).status_code == 401
    response = client.get(URL, headers={"Authorization": f"Bearer {read}"})
    assert response.status_code == 200


def test_mqtt_dead_letters_through_the_service(settings: Settings,
                                               mosquitto_server: Any) -> None:
    tag = uuid.uuid4().hex[:12]
    configured = settings.model_copy(update={
        "mqtt_url": mosquitto_server.url, "mqtt_events_topic": f"test/{tag}/events",
        "mqtt_frigate_topic": f"test/{tag}/frigate", "mqtt_share_group": f"g{tag}",
        "mqtt_client_id": f"service-{tag}"})
    app = create_app(configured)
    with TestClient(app) as client:
        assert app.state.vigil.mqtt.wait_subscribed(20.0)
        publish(mosquitto_server.port, f"test/{tag}/events",
                [b"{oops", json.dumps(event(event_id="good-1")).encode()])
        deadline = time.monotonic() + 20.0
        while client.get(URL).json()["total"] == 0 or not client.get(
                EVENTS, params={"source": "cam1"}).json()["events"]:
            assert time.monotonic() < deadline, "the MQTT messages were not ingested"
            time.sleep(0.05)
        [dead] = client.get(URL).json()["dead_letters"]
        events = client.get(EVENTS).json()["events"]
    assert (dead["topic"], dead["reason"], dead["payload"]) == (
        f"test/{tag}/events", "invalid_json", "{oops")
    assert [e["event_id"] for e in events] == ["good-1"]


def publish(port: int, topic: str, payloads: list[bytes]) -> None:
    """Publish at QoS 1 and wait for the broker's acknowledgements."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex}",
                         protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(20.0)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()
