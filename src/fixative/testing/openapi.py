"""Checks against the served OpenAPI document, shared by the read- and write-side tests:
which app routes it leaves out, methods it does not list (405 with ``Allow``), and
schemathesis-generated requests aimed at real names, positive (the document allows them: the
server must too) and negative (it forbids them: the server must refuse them), judged by every
schemathesis check."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import hypothesis
import requests
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.parameters import ParameterLocation

Case = Any  # schemathesis.Case, generic in its transport
Check = Callable[[Case, Any], str | None]  # (case, response) -> a complaint or None

# What a document cannot say, so a 400 for it is no disagreement with the document: names
# that exist only in the data (columns of a table, fields of its schema type, supervoxels under
# a point), and two rules no JSON Schema states: no NUL anywhere in a body (PostgreSQL text
# cannot hold it), a binary body of whole uint64s; and what a view's SQL may say (checked by a
# SQL parser, ``fixative.views.check``). Matched on the error message.
BEYOND_THE_DOCUMENT = re.compile(
    r"has no column|no table of the query has column|is not part of the query"
    r"|missing required field|field '[^']*':|no supervoxel at|is neither a supervoxel"
    r"|NUL character|whole little-endian uint64|takes no parameter|with bound points"
    r"|not a reference schema|must list at most|unknown field|references another table"
    r"|has no table|appears more than once"
    r"|only a datastack admin"
    r"|view SQL|a view needs its SQL|view column|view name"
)


def _routes(app: Flask) -> Iterator[tuple[str, set[str]]]:
    """(OpenAPI-style path, methods) of every API route (not the dashboard's HTML pages)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static" and not rule.endpoint.startswith("dashboard."):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            yield path, set(rule.methods or ()) - {"HEAD", "OPTIONS"}


def undocumented_routes(app: Flask, document: Mapping[str, Any]) -> list[str]:
    """``METHOD /path`` of every app route the document does not describe."""
    missing = []
    for path, methods in _routes(app):
        for method in sorted(methods):
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    return missing


def unlisted_methods_refused(
    url: str, app: Flask, fixed: Mapping[str, object], headers: Mapping[str, str] | None = None
) -> list[str]:
    """Every documented path that ``app`` serves, asked with a method the document does not
    list: 405 naming exactly the documented methods in ``Allow``."""
    document = requests.get(url + "/api/openapi.json", timeout=30).json()
    served = {path for path, _ in _routes(app)}
    failures = []
    for path, operations in document["paths"].items():
        if path not in served:
            continue
        concrete = re.sub(r"{([^}]+)}", lambda m: str(fixed.get(m[1], 1)), path)
        listed = {m.upper() for m in operations}
        method = next(m for m in ("PATCH", "PUT", "DELETE", "POST") if m not in listed)
        got = requests.request(method, url + concrete, headers=dict(headers or {}), timeout=60)
        allowed = {m.strip() for m in got.headers.get("Allow", "").split(",") if m.strip()}
        if got.status_code != 405 or allowed - {"HEAD", "OPTIONS"} != listed:
            failures.append(f"{method} {path}: {got.status_code}, Allow: {sorted(allowed)}")
    return failures


def no_5xx_or_redirect(case: Case, response: Any) -> str | None:
    code = response.status_code
    if code >= 500 or 300 <= code < 400:
        return f"{case.method} {case.formatted_path}: {code} {response.text[:200]}"
    return None


def _excused(failure: Any, response: Any) -> bool:
    """Failures that are no disagreement between the server and its document."""
    name = type(failure).__name__
    code = response.status_code
    if name == "AcceptedNegativeData" and code == 413:
        return True  # refused, as too large: schemathesis's list of refusals omits 413
    if "data.arrow" in failure.message:
        return True  # caveclient's ``Content-Type: data.arrow``, documented, is no media type
    if name == "ContentDeserializationError":
        return any(v.startswith("data.arrow") for v in response.headers.get("content-type", []))
    if name == "AcceptedNegativeData" and "in query" in failure.message:
        # an object "value" is sent exploded, as other parameters: none of ours, so ignored
        return "became object" in failure.message
    if name == "RejectedPositiveData" and code in (400, 422):
        message = _message(response)
        if code == 422:
            return "Idempotency-Key" in message  # a generated key reused for another request
        return BEYOND_THE_DOCUMENT.search(message) is not None
    return False


def _message(response: Any) -> str:
    """The ``message`` of a JSON error answer, else a short view of the body."""
    try:
        return str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        return repr(response.content[:200])


def schemathesis_failures(case: Case, response: Any, headers: Mapping[str, str]) -> list[str]:
    """What every schemathesis check finds wrong with ``response``, less what is excused."""
    load_all_checks()
    try:
        case.validate_response(response, checks=list(CHECKS.get_all()), headers=dict(headers))
    except (FailureGroup, Failure) as exc:
        found: Iterable[Any] = exc.exceptions if isinstance(exc, FailureGroup) else [exc]
        return [
            f"{case.method} {case.formatted_path} [{response.status_code}] "
            f"{type(f).__name__}: {f.message.strip()[-200:]!r} {_message(response)[:200]} "
            f"(body {str(case.body)[:300]})"
            for f in found
            if not _excused(f, response)
        ]
    return []


def fuzz(
    url: str,
    fixed: Callable[[Case], Mapping[str, Any]],
    *,
    headers: Mapping[str, str] | None = None,
    max_examples: int = 5,
    checks: tuple[Check, ...] = (no_5xx_or_redirect,),
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    all_checks: bool = True,
) -> list[str]:
    """Generated requests for every operation of ``url``'s document, ``max_examples`` per
    operation and mode, their path parameters set to ``fixed(case)`` where it names them (so
    they reach real tables, not 404s); returns what ``checks`` and (``all_checks``) every
    schemathesis check complained about."""
    schema = schemathesis.openapi.from_url(url + "/api/openapi.json")
    failures: list[str] = []
    sent = dict(headers or {})
    for result in schema.get_all_operations():
        operation: Any = result.ok()  # type: ignore[union-attr]
        for mode in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            )
            def run(case: Case) -> None:
                params = case.path_parameters or {}
                for key, value in fixed(case).items():
                    if key in params and not _negated_path(case):
                        params[key] = value
                response = case.call(base_url=url, headers=sent, allow_redirects=False, timeout=60)
                failures.extend(f for f in (check(case, response) for check in checks) if f)
                if all_checks:
                    failures.extend(schemathesis_failures(case, response, sent))

            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                run()  # Unsatisfiable: nothing to make invalid (no parameters, no body)
    return failures


def _negated_path(case: Case) -> bool:
    """Whether schemathesis made the path parameters the invalid part (then they stay)."""
    meta = case.meta
    if meta is None:
        return False
    component = meta.components.get(ParameterLocation.PATH)
    return component is not None and component.mode.is_negative
