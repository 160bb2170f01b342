"""File uploads processed in the background."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from vigil.api.auth import presented_key, require
from vigil.api.cursors import decode_cursor, encode_cursor
from vigil.api.errors import ApiError
from vigil.api.params import checked_zone
from vigil.api.state import AppState, app_state
from vigil.ingest.columns import ColumnError, parse_column_map
from vigil.ingest.files import FileOptions, IngestFileError, detect_format
from vigil.keys import hash_key
from vigil.store import Store, UploadState
from vigil.uploads import new_upload_id

router = APIRouter(prefix="/api/v1", tags=["uploads"])
COPY_CHUNK = 1024 * 1024
MAX_PAGE = 1000
UploadStatus = Literal["queued", "processing", "done", "failed"]
FINISHED = ("done", "failed")


@router.post("/uploads", dependencies=[Depends(require("ingest"))], status_code=202)
async def create_upload(request: Request, state: AppState = Depends(app_state)) -> JSONResponse:
    """Upload a CSV, NDJSON or Parquet file (multipart field ``file``, or the raw body with
    ``?filename=``). Options: ``format``, ``timezone``, ``timestamp_format``, ``map``
    (repeatable ``COL=field``) as form fields or query parameters. Answers 202 with the
    upload id once the file is safely on disk; poll ``GET /api/v1/uploads/{id}``."""
    upload_id = new_upload_id()
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1) as form:
            item = form.get("file")
            if not isinstance(item, UploadFile):
                raise ApiError(422, "multipart upload needs a file field named 'file'", "file")
            filename = item.filename or "upload.csv"
            options = _options(filename, {k: form.getlist(k) for k in form.keys()
                                          if k != "file"})
            path = state.uploads.spool_path(upload_id, filename)
            size = await _copy_upload(item, path)
    else:
        filename = request.query_params.get("filename", "upload.csv")
        options = _options(filename, {k: request.query_params.getlist(k)
                                      for k in request.query_params.keys()})
        path = state.uploads.spool_path(upload_id, filename)
        size = await _copy_stream(request, path)
    if size == 0:
        path.unlink(missing_ok=True)
        raise ApiError(422, "the uploaded file is empty", "file")
    upload = UploadState(upload_id=upload_id, filename=filename, status="queued",
                         bytes_total=size, options=options,
                         uploaded_by=_key_id(request, state.store))
    state.uploads.start(upload, path, FileOptions(**options))
    return JSONResponse({"upload_id": upload_id, "status": "queued", "bytes_total": size,
                         "url": f"/api/v1/uploads/{upload_id}"}, 202)


@router.get("/uploads", dependencies=[Depends(require("read"))])
def list_uploads(
    limit: int = Query(50, ge=1, le=MAX_PAGE, description="uploads per page"),
    status: UploadStatus | None = Query(None, description="only uploads in this status"),
    before: str | None = Query(None, description="only older uploads: pass next_before of "
                               "the previous page"),
    state: AppState = Depends(app_state),
) -> dict[str, Any]:
    """Every upload the service has taken, newest first: file, uploader (API key), status,
    times, bytes and the report's totals (``GET /api/v1/uploads/{id}`` has the whole
    report). ``next_before`` is null on the last page."""
    cursor = decode_cursor(before, "before", " (pass next_before)", need_zone=True)
    found = state.store.list_uploads(limit + 1, cursor, status)
    page = found[:limit]
    names = {key["key_id"]: key["name"] for key in state.store.list_api_keys()}
    last = page[-1] if len(found) > limit else None
    return {
        "uploads": [_summary(upload, names) for upload in page],
        "next_before": encode_cursor(last.created_at, last.upload_id)
        if last is not None and last.created_at is not None else None,
    }


@router.get("/uploads/{upload_id}", dependencies=[Depends(require("read"))])
def get_upload(upload_id: str, state: AppState = Depends(app_state)) -> dict[str, Any]:
    """Status, progress and, when done, the data quality report."""
    upload = state.store.get_upload(upload_id)
    if upload is None:
        raise ApiError(404, f"no upload {upload_id!r}", "upload_id")
    fraction = upload.bytes_done / upload.bytes_total if upload.bytes_total else 0.0
    return {
        "upload_id": upload.upload_id,
        "filename": upload.filename,
        "status": upload.status,
        "progress": {"bytes_done": upload.bytes_done, "bytes_total": upload.bytes_total,
                     "rows_read": upload.rows_read, "fraction": round(min(fraction, 1.0), 4)},
        "report": upload.report,
        "error": upload.error,
        "created_at": upload.created_at,
        "updated_at": upload.updated_at,
    }


def _summary(upload: UploadState, key_names: dict[str, str | None]) -> dict[str, Any]:
    """One upload of the listing; the totals are null until its report exists."""
    totals = upload.report or {}
    uploader = upload.uploaded_by
    return {
        "upload_id": upload.upload_id,
        "filename": upload.filename,
        "status": upload.status,
        "uploaded_by": None if uploader is None
        else {"key_id": uploader, "name": key_names.get(uploader)},
        "created_at": upload.created_at,
        "finished_at": upload.updated_at if upload.status in FINISHED else None,
        "bytes_total": upload.bytes_total,
        "bytes_done": upload.bytes_done,
        "rows_read": upload.rows_read,
        **{key: totals.get(key) for key in ("accepted", "duplicates", "rejected")},
        "error": upload.error,
        "url": f"/api/v1/uploads/{upload.upload_id}",
    }


def _key_id(request: Request, store: Store) -> str | None:
    """The id of the API key the request carries (``None`` while no keys are in use)."""
    key = presented_key(request)
    found = store.find_api_key(hash_key(key)) if key else None
    return found[0] if found else None


def _options(filename: str, values: dict[str, list[Any]]) -> dict[str, Any]:
    def one(name: str) -> str | None:
        found = [str(v) for v in values.get(name, []) if str(v)]
        return found[0] if found else None

    try:
        fmt = detect_format(Path(filename), one("format"))
    except IngestFileError as exc:
        raise ApiError(422, str(exc), "format") from exc
    zone = checked_zone(one("timezone"))
    try:
        column_map = parse_column_map([str(v) for v in values.get("map", [])])
    except ColumnError as exc:
        raise ApiError(422, str(exc), "map") from exc
    return {"format": fmt, "timezone": zone, "timestamp_format": one("timestamp_format"),
            "column_map": column_map}


async def _copy_upload(item: UploadFile, path: Path) -> int:
    """Copy the uploaded part to ``path`` and make it durable before it is acknowledged."""
    size = 0
    with path.open("wb") as out:
        while chunk := await item.read(COPY_CHUNK):
            out.write(chunk)
            size += len(chunk)
        await run_in_threadpool(os.fsync, out.fileno())
    await item.close()
    return size


async def _copy_stream(request: Request, path: Path) -> int:
    """Stream the request body to ``path`` and make it durable."""
    size = 0
    with path.open("wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
            size += len(chunk)
        await run_in_threadpool(os.fsync, out.fileno())
    return size

