"""Background processing of uploaded files, with progress kept in the store."""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from pathlib import Path

from vigil.ingest.files import FileOptions, IngestFileError, ingest_file
from vigil.metrics import UPLOADS_ACTIVE, count_outcome
from vigil.store import Store, UploadState
from vigil.writer import Writer

log = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 0.5
UNFINISHED = ("queued", "processing")


def new_upload_id() -> str:
    """A fresh upload id."""
    return uuid.uuid4().hex


class UploadProcessor:
    """Ingests uploads one at a time, in arrival order, on a thread of its own.

    One at a time keeps memory bounded and leaves the cores to the service; writes go
    through the writer like every other write.
    """

    def __init__(self, writer: Writer, upload_dir: Path) -> None:
        self.writer = writer
        self.upload_dir = upload_dir
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[tuple[UploadState, Path, FileOptions] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._loop, name="vigil-uploads", daemon=True)
        self._worker.start()

    def spool_path(self, upload_id: str, filename: str) -> Path:
        """Where an upload's bytes are kept while it is processed."""
        suffix = Path(filename).suffix.lower() or ".csv"
        return self.upload_dir / f"{upload_id}{suffix}"

    def start(self, state: UploadState, path: Path, options: FileOptions) -> None:
        """Record the upload as queued; it is processed when its turn comes."""
        self.store.claim_upload(state.upload_id)  # a new id: nobody else can hold it
        self._save(state)
        self._queue.put((state, path, options))

    def resume_unfinished(self) -> int:
        """Restart uploads that were acknowledged but not finished (after a crash).

        With several workers on one database, each upload is resumed by the one worker that
        claims it; an upload still held by a live worker is left to that worker.
        """
        resumed = 0
        for listed in self.store.unfinished_uploads():
            if not self.store.claim_upload(listed.upload_id):
                continue
            state = self.store.get_upload(listed.upload_id)  # it may have finished meanwhile
            if state is None or state.status not in UNFINISHED:
                self.store.release_upload(listed.upload_id)
                continue
            path = self.spool_path(state.upload_id, state.filename)
            if path.is_file():
                self._queue.put((state, path, FileOptions(**state.options)))
                resumed += 1
            else:
                state.status, state.error = "failed", "spooled file is gone; upload again"
                self._save(state)
                self.store.release_upload(state.upload_id)
        return resumed

    @property
    def store(self) -> Store:
        return self.writer.store

    def wait(self, timeout: float) -> bool:
        """Wait until every queued upload is processed; ``False`` if time ran out."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self, timeout: float) -> None:
        """Stop taking uploads once the current one is done (unfinished ones resume at the
        next start, from their spooled files)."""
        self._queue.put(None)
        self._worker.join(timeout)

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                self._process(*item)
            finally:
                self._queue.task_done()

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
        except IngestFileError as exc:  # named by the file the user sent, not the spool's
            message = str(exc).replace(str(path), state.filename)
            state.status, state.error = "failed", message.replace(path.name, state.filename)
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
        self.store.release_upload(state.upload_id)
