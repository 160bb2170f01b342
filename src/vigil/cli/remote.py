"""Ingest through a running ``vigil serve`` (whose database no other process may open)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from vigil.ingest.files import FileOptions, IngestFileError, Progress

POLL_SECONDS = 0.5
UPLOAD_CHUNK = 1024 * 1024


class RemoteError(RuntimeError):
    """The server could not be reached or refused the request."""


def upload_and_wait(server: str, api_key: str | None, path: Path, options: FileOptions,
                    progress: Progress | None = None) -> dict[str, Any]:
    """Upload ``path`` to ``server`` and wait for its quality report.

    ``progress(bytes_done, rows)`` is called while the server processes it.
    Raises :class:`IngestFileError` when the server could not read the file and
    :class:`RemoteError` when the server is unreachable or refuses the upload.
    """
    if not path.is_file():
        raise IngestFileError("no such file")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    params: list[tuple[str, str | int | float | bool | None]] = [("filename", path.name)]
    params += [(k, v) for k, v in (("format", options.format), ("timezone", options.timezone),
                                   ("timestamp_format", options.timestamp_format)) if v]
    params += [("map", f"{column}={field}") for column, field in options.column_map.items()]
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=60) as client:
        try:
            started = client.post("/api/v1/uploads", params=params,
                                  content=_chunks(path))
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {server}: {exc}") from exc
        if started.status_code != 202:
            raise RemoteError(_message(started))
        return _wait(client, started.json()["url"], progress)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(UPLOAD_CHUNK):
            yield chunk


def _wait(client: httpx.Client, url: str, progress: Progress | None) -> dict[str, Any]:
    while True:
        state = client.get(url)
        if state.status_code != 200:
            raise RemoteError(_message(state))
        body: dict[str, Any] = state.json()
        if progress:
            done = body["progress"]
            progress(done["bytes_done"], done["rows_read"])
        if body["status"] == "done":
            report: dict[str, Any] = body["report"]
            return report
        if body["status"] == "failed":
            raise IngestFileError(body["error"] or "the server could not ingest the file")
        time.sleep(POLL_SECONDS)


def _message(response: httpx.Response) -> str:
    try:
        detail = response.json().get("error")
    except ValueError:
        detail = response.text[:200]
    return f"server answered {response.status_code}: {detail}"
