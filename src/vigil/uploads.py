"""Background processing of uploaded files, with progress kept in the store."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

from vigil.ingest.files import FileOptions, IngestFileError, ingest_file
from vigil.metrics import UPLOADS_ACTIVE, count_outcome
from vigil.store import UploadState
from vigil.writer import Writer

log = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 0.5


def new_upload_id() -> str:
    """A fresh upload id."""
    return uuid.uuid4().hex


class UploadProcessor:
    """Runs each upload's ingest on a thread of its own; writes go through the writer."""

    def __init__(self, writer: Writer, upload_dir: Path) -> None:
        self.writer = writer
        self.upload_dir = upload_dir
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        self._threads: list[threading.Thread] = []

    def spool_path(self, upload_id: str, filename: str) -> Path:
        """Where an upload's bytes are kept while it is processed."""
        suffix = Path(filename).suffix.lower() or ".csv"
        return self.upload_dir / f"{upload_id}{suffix}"

    def start(self, state: UploadState, path: Path, options: FileOptions) -> None:
        """Record the upload as queued and process it in the background."""
        self._save(state)
        thread = threading.Thread(target=self._process, args=(state, path, options),
                                  name=f"vigil-upload-{state.upload_id[:8]}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def resume_unfinished(self) -> int:
        """Restart uploads that were acknowledged but not finished (after a crash)."""
        resumed = 0
        for state in self.writer.store.unfinished_uploads():
            path = self.spool_path(state.upload_id, state.filename)
            if path.is_file():
                self.start(state, path, FileOptions(**state.options))
                resumed += 1
            else:
                state.status, state.error = "failed", "spooled file is gone; upload again"
                self._save(state)
        return resumed

    def wait(self, timeout: float | None = None) -> None:
        """Wait for running uploads (used at shutdown and in tests)."""
        for thread in self._threads:
            thread.join(timeout)

    def _save(self, state: UploadState) -> None:
        snapshot = UploadState(**vars(state))
        self.writer.run(lambda store: store.save_upload(snapshot))

    def _process(self, state: UploadState, path: Path, options: FileOptions) -> None:
        UPLOADS_ACTIVE.inc()
        state.status = "processing"
        self._save(state)
        last = [0.0]

        def progress(done: int, rows: int) -> None:
            state.bytes_done, state.rows_read = done, rows
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_SECONDS:
                last[0] = now
                self._save(state)

        try:
            report = ingest_file(path, self.writer.insert_events, options, progress)
        except IngestFileError as exc:
            state.status, state.error = "failed", str(exc)
        except Exception as exc:  # recorded on the upload, then logged with its traceback
            log.exception("upload %s failed", state.upload_id)
            state.status, state.error = "failed", f"internal error: {exc}"
        else:
            report.source = state.filename
            state.status, state.report = "done", report.to_dict()
            state.bytes_done, state.rows_read = state.bytes_total, report.rows_read
            count_outcome("upload", report.accepted, report.duplicates, dict(report.rejected))
        finally:
            UPLOADS_ACTIVE.dec()
        self._save(state)
        path.unlink(missing_ok=True)
