"""Request bodies read with a cap: the public app faces the internet, so nothing it
reads may grow without bound (uvicorn itself sets no limit on a body)."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

#: Largest form body (a preference form or a one-click POST, urlencoded or multipart).
FORM_BYTES = 16_384
#: Most fields in a form (the preference form has a dozen).
FORM_FIELDS = 100


class BadForm(Exception):
    """A form that is refused whole: ``status`` 413 (too large) or 400 (malformed)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed ``limit`` bytes: a declared
    Content-Length over the limit is refused before reading, and a body streamed without one
    is read no further than the limit."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)


async def read_form(request: Request, limit: int = FORM_BYTES, max_fields: int = FORM_FIELDS) -> dict[str, list[str]]:
    """The posted form, urlencoded or multipart, each read no further than ``limit`` bytes
    and ``max_fields`` fields; :class:`BadForm` otherwise (413 too large; 400 too many fields,
    a file part, no boundary, not a form). Text only: a file part is never accepted."""
    body = await read_capped(request, limit)
    if body is None:
        raise BadForm(413, "form too large")
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        from starlette.formparsers import MultiPartException, MultiPartParser

        async def stream():
            yield body
            yield b""

        try:
            form = await MultiPartParser(request.headers, stream(), max_files=0, max_fields=max_fields,
                                         max_part_size=limit).parse()
        except MultiPartException as exc:
            raise BadForm(400, str(exc)) from None
        except Exception:  # noqa: BLE001 - python-multipart's own errors on a malformed body
            raise BadForm(400, "malformed multipart body") from None
        if any(not isinstance(v, str) for _, v in form.multi_items()):
            raise BadForm(400, "file parts are not accepted")
        out: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            out.setdefault(key, []).append(value)
        return out
    try:
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=max_fields)
    except ValueError:  # more than max_num_fields
        raise BadForm(400, "too many fields") from None
