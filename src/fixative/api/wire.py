"""Request parsing shared by the blueprints: JSON bodies sent without a Content-Type, exact
64-bit ids, float-epoch timestamps, Python-style booleans in query strings."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from flask import current_app, request

from fixative.clock import as_utc
from fixative.errors import InvalidInput, PayloadTooLarge
from fixative.ids import to_uint64

UINT64_MAX = 2**64 - 1


def json_body(required: bool = True) -> Any:
    """The request body parsed as JSON whatever its Content-Type (PyChunkedGraph clients send
    none, and send bodies on GET)."""
    raw = request.get_data(cache=True)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # a chunked body has no length to refuse up front: werkzeug stops reading at the limit
        raise PayloadTooLarge(f"the request body is larger than {limit:,} bytes")
    if not raw:
        if required:
            raise InvalidInput("request body is empty; expected JSON")
        return None
    if b"\\u0000" in raw:  # PostgreSQL text cannot hold NUL; refused alike on both backends
        raise InvalidInput("request body holds a NUL character (\\u0000)")
    try:
        return json.loads(raw)
    except RecursionError:
        raise InvalidInput("request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None


def id_list(body: Any, key: str) -> npt.NDArray[np.uint64]:
    """``body[key]`` as uint64 ids; anything but a list of non-negative integers is refused."""
    if not isinstance(body, dict) or key not in body:
        raise InvalidInput(f"body must be a JSON object with a {key!r} list")
    values = body[key]
    if not isinstance(values, list):
        raise InvalidInput(f"{key!r} must be a list of integer ids")
    ids = [whole(v) for v in values]  # JSON's 431.0 is the integer 431 (JSON Schema agrees)
    for v, given in zip(ids, values, strict=True):
        if v is None or v < 0 or v > UINT64_MAX:
            raise InvalidInput(f"{key!r} holds {given!r}, not a 64-bit unsigned integer id")
    return np.array(ids, dtype=np.uint64) if ids else to_uint64([])


def whole(value: Any) -> int | None:
    """An integer, or a float with no fraction (exact up to 2**53), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return None


def timestamp_arg(name: str, default: datetime | None = None) -> datetime | None:
    """A query-string timestamp: epoch seconds (float) or ISO-8601."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return as_utc(float(raw))
    except ValueError:
        pass
    try:
        return as_utc(raw)
    except InvalidInput:
        raise InvalidInput(f"query parameter {name}={raw!r} is not a timestamp") from None


BOOL_WORDS = {"True": True, "true": True, "1": True, "False": False, "false": False, "0": False}


def bool_arg(name: str, default: bool = False) -> bool:
    """A query-string boolean, spelled as Python (caveclient) or JSON does, or 1/0; empty is
    the default. Exactly the spellings the OpenAPI document lists (``BOOL_WORDS``)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if raw in BOOL_WORDS:
        return BOOL_WORDS[raw]
    raise InvalidInput(
        f"query parameter {name}={raw[:40]!r} is not a boolean ({', '.join(BOOL_WORDS)})"
    )


def epoch(value: datetime) -> float:
    return value.timestamp()
