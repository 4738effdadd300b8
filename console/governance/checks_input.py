"""Reading a check's inputs from a request (page or API): the fact check's uploaded
question/answer set, size-capped and parsed before anything is queued."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile

from console.core.errors import InvalidInput
from console.governance.checks import parse_qa

MAX_QA_BYTES = 2 * 1024 * 1024


def qa_from_upload(upload: UploadedFile) -> list[dict[str, str]]:
    if upload.size is None or upload.size > MAX_QA_BYTES:
        raise InvalidInput(f"The reference set is limited to {MAX_QA_BYTES} bytes.")
    try:
        return parse_qa(upload.read(), upload.name or "")
    except ValueError as exc:
        raise InvalidInput(f"The reference set: {exc}.") from None


def spec_errors(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
