"""Cross-site request refusal, before authentication.

A browser attaches the ``middle_auth_token`` cookie to any request a web page makes to this
server, and a page may send "simple" cross-site POSTs (``text/plain``, form encodings) without
asking first. So a request that changes something is refused when:

- its ``Origin`` (or ``Sec-Fetch-Site``) says another site sent it, unless it authenticates with
  an ``Authorization`` header, which a cross-site page cannot set without the server's consent;
- its body is of a form a browser sends cross-site without asking (``text/plain``, form
  encodings): writes take ``application/json`` (or no Content-Type, as PyChunkedGraph clients
  send);
- it carries its token in the query string (fine for a link that reads, never for a write).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from fixative.errors import Forbidden, UnsupportedMediaType

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BROWSER_FORMS = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
TOKEN_PARAM = "middle_auth_token"


def refuse_cross_site() -> None:
    if request.method in SAFE_METHODS:
        return
    if TOKEN_PARAM in request.args:
        raise Forbidden(
            f"a token in the query string ({TOKEN_PARAM}=) is accepted for reads only; "
            "send it as 'Authorization: Bearer <token>'"
        )
    media_type = (request.mimetype or "").lower()
    if media_type in BROWSER_FORMS:
        raise UnsupportedMediaType(
            f"a {media_type} body is not accepted: send JSON (Content-Type: application/json)"
        )
    if "Authorization" in request.headers:
        return
    if _cross_site():
        raise Forbidden(
            f"cross-site {request.method} refused (Origin {request.headers.get('Origin')!r}); "
            "a page of another site cannot write with this server's cookie"
        )


def _cross_site() -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if fetch_site in ("cross-site", "same-site"):
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False  # not a browser's cross-origin request: browsers send Origin on those
    if origin == "null":
        return True  # sandboxed frames and file: pages
    return urlsplit(origin).netloc.lower() != request.host.lower()
