"""Checks against the served OpenAPI document, shared by the read- and write-side tests:
which app routes it leaves out, and schemathesis-generated requests aimed at real names."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import hypothesis
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

Case = Any  # schemathesis.Case, generic in its transport
Check = Callable[[Case, Any], str | None]  # (case, response) -> a complaint or None


def undocumented_routes(app: Flask, document: Mapping[str, Any]) -> list[str]:
    """``METHOD /path`` of every app route the document does not describe."""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    return missing


def no_5xx_or_redirect(case: Case, response: Any) -> str | None:
    code = response.status_code
    if code >= 500 or 300 <= code < 400:
        return f"{case.method} {case.formatted_path}: {code} {response.text[:200]}"
    return None


def fuzz(
    url: str,
    fixed: Callable[[Case], Mapping[str, Any]],
    *,
    headers: Mapping[str, str] | None = None,
    max_examples: int = 5,
    checks: tuple[Check, ...] = (no_5xx_or_redirect,),
) -> list[str]:
    """Generated requests for every operation of ``url``'s document, their path parameters
    set to ``fixed(case)`` where it names them (so they reach real tables, not 404s); returns
    what the checks complained about."""
    schema = schemathesis.openapi.from_url(url + "/api/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation: Any = result.ok()  # type: ignore[union-attr]

        @given(case=operation.as_strategy())
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
                if key in params:
                    params[key] = value
            response = case.call(
                base_url=url, headers=dict(headers or {}), allow_redirects=False, timeout=60
            )
            failures.extend(f for f in (check(case, response) for check in checks) if f)

        run()
    return failures
