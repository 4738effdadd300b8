"""Dataset uploads, streamed straight to disk.

``DataUploadHandler`` replaces Django's upload handlers on the two upload views (the
page and the API): the one file of the request goes, chunk by chunk, into
``uploads/.incoming/<uuid>.part`` under FORGE_DATA_DIR while its size and sha256 are
counted. Nothing of it is held in memory, and nothing goes through ``/tmp`` (which may
be a small RAM disk) to be copied again. A request whose Content-Length is over
FORGE_DATA_MAX_UPLOAD_BYTES is refused before its body is read; one without a length
(chunked) is cut off as soon as it passes the limit. Either way ``too_large`` is set
and the view answers 413.

The view must call ``discard()`` when it is done (in a ``finally``): whatever the
service did not take (a refused, invalid or interrupted upload) is removed.

Django parses a multipart body when something first reads ``request.POST`` or
``request.FILES``, which the CSRF check does: install the handler before it runs
(``csrf_exempt`` outside, ``csrf_protect`` inside, as Django's docs show).
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

from console.data.artifacts import incoming_dir

CHUNK = 1024 * 1024
# Room for the multipart boundaries and the form's other fields around the file.
ENVELOPE = 1024 * 1024


class StagedUpload(UploadedFile):
    """An uploaded file already on disk at ``path`` (closed), with its sha256."""

    name: str

    def __init__(self, *, path: Path, name: str, size: int, sha256: str, content_type: str):
        super().__init__(file=None, name=name, content_type=content_type, size=size)
        self.path = path
        self.sha256 = sha256

    def close(self) -> None:  # the file is already closed; Django calls this at the end
        return None

    def open(self, mode: str = "rb"):  # pragma: no cover - services use .path
        return self.path.open(mode)


class DataUploadHandler(FileUploadHandler):
    chunk_size = CHUNK

    def __init__(self, request=None, *, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.too_large = False
        self.path: Path | None = None
        self._fh = None
        self._hash = None
        self._size = 0

    # ------------------------------------------------------------------ the request

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.max_bytes + ENVELOPE:
            self.too_large = True
            return QueryDict(encoding=encoding), MultiValueDict()  # the body is never read
        return None

    # ------------------------------------------------------------------ the file

    def new_file(self, field_name, file_name, *args, **kwargs) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        if field_name != "file" or self.path is not None:
            raise SkipFile  # one file per upload, in the field "file"
        self.path = incoming_dir() / f"{uuid.uuid4().hex}.part"
        self._fh = self.path.open("xb")
        self._hash = hashlib.sha256()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._size += len(raw_data)
        if self._size > self.max_bytes:
            self.too_large = True
            self.discard()
            raise StopUpload(connection_reset=True)
        self._fh.write(raw_data)
        self._hash.update(raw_data)
        return None

    def file_complete(self, file_size: int) -> StagedUpload | None:
        if self._fh is None or self.path is None:
            return None
        self._fh.close()
        self._fh = None
        return StagedUpload(
            path=self.path,
            name=self.file_name or "upload",
            size=self._size,
            sha256=self._hash.hexdigest(),
            content_type=self.content_type or "application/octet-stream",
        )

    def upload_interrupted(self) -> None:
        self.discard()

    # ------------------------------------------------------------------ cleanup

    def discard(self) -> None:
        """Remove the staged file unless a service moved it away."""
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
