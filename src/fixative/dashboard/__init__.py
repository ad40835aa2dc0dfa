"""The web dashboard at ``/dashboard/``: server-rendered pages (Jinja) over the same services
the API uses (catalogue, query engine, runner records, chunkedgraph), behind the same tokens and
permissions. A browser signs in once with its API token, which is kept in the
``middle_auth_token`` cookie the API already reads; writes (starting runs) go to the API's own
endpoints from the page's JavaScript, so the API's cross-site refusal guards them.

Charts are Vega-Lite specs rendered by vega-embed; the libraries are vendored under
``static/vendor/`` so no page needs the internet or a build step."""

from __future__ import annotations

from fixative.dashboard.views import register_dashboard

__all__ = ["register_dashboard"]
