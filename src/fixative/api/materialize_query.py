"""The materialize query endpoints: a table at a version, a join at a version, and a live query
at any instant. Bodies are parsed strictly (``query_body``), the engine runs the ``QuerySpec``,
and the result streams back as Arrow IPC or JSON records (``arrow``).

Points always come back split into ``_x/_y/_z`` columns: caveclient asks for that on every
frozen query and joins them itself when the user wanted one column, and it expects the same of
live queries (which do not send the parameter)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, request

from fixative.api import catalog_view as cat
from fixative.api.arrow import arrow_response, count_response, json_records_response
from fixative.api.materialize import DS, VERSION, add_routes
from fixative.api.query_body import join_spec, live_spec, simple_spec
from fixative.api.services import HttpServices, QueryOutput
from fixative.api.wire import bool_arg, json_body
from fixative.errors import InvalidInput
from fixative.query.spec import QuerySpec

ACCEPTED_FLAGS = (
    "arrow_format",
    "split_positions",
    "merge_reference",
    "allow_missing_lookups",
    "allow_invalid_root_ids",
    "direct_sql_pandas",
)
BASE_COLUMNS = frozenset({"id", "created", "deleted", "superceded_id", "valid"})


def _random_sample() -> int | None:
    raw = request.args.get("random_sample")
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"query parameter random_sample={raw!r} is not an integer") from None
    if value < 1:
        raise InvalidInput(f"query parameter random_sample={raw!r} must be positive")
    return value


@dataclass(frozen=True)
class Flags:
    """The query-string switches, all parsed before the engine runs (a garbled value is a 400
    then, never an error with a result already open)."""

    as_arrow: bool
    compress: bool
    count: bool

    @classmethod
    def parse(cls) -> Flags:
        for name in ACCEPTED_FLAGS:  # accepted and unused, but still checked
            bool_arg(name)
        return cls(
            as_arrow=bool_arg("return_pyarrow", default=True),
            compress=bool_arg("ipc_compress", default=True),
            count=bool_arg("count"),
        )

    def respond(self, result: QueryOutput) -> Response:
        if self.as_arrow:
            return arrow_response(result, compress=self.compress)
        return json_records_response(result)


def query_blueprint(services: HttpServices) -> Blueprint:
    bp = Blueprint("materialize_query", __name__)

    def columns_of(table: str) -> set[str]:
        info = services.store.find_table(table)
        if info is None:
            return set()
        return set(BASE_COLUMNS) | set(info.schema.flat_names())

    def readable(datastack: str, spec: QuerySpec) -> None:
        for table in dict.fromkeys(spec.tables):
            services.require_read(datastack, table)

    def run_version(datastack: str, version: int, spec: QuerySpec, flags: Flags) -> Response:
        cat.version(services, datastack, version)
        readable(datastack, spec)
        engine = services.query_engine()
        if flags.count:
            count = engine.version_count(datastack, version, spec)
            return count_response(count, as_arrow=flags.as_arrow, compress=flags.compress)
        return flags.respond(engine.version_query(datastack, version, spec))

    def table_query(datastack: str, version: int, table: str) -> Response:
        flags = Flags.parse()
        spec = simple_spec(json_body(required=False), table, random_sample=_random_sample())
        return run_version(datastack, version, spec, flags)

    def join_query(datastack: str, version: int) -> Response:
        flags = Flags.parse()
        spec = join_spec(json_body(required=False), columns_of, random_sample=_random_sample())
        return run_version(datastack, version, spec, flags)

    def live_query(datastack: str) -> Response:
        flags = Flags.parse()
        services.datastack(datastack)
        spec, at = live_spec(json_body(required=True))
        from fixative.api.views import is_view, live_view_response

        if is_view(services, datastack, spec):  # a live_compatible view, as a table
            return live_view_response(services, datastack, spec, at, flags)
        readable(datastack, spec)
        if flags.count:
            raise InvalidInput("count=True is not supported on live queries")
        return flags.respond(services.query_engine().live_query(datastack, at, spec))

    add_routes(bp, VERSION + "/table/<table>/query", table_query, methods=("POST",))
    add_routes(bp, VERSION + "/query", join_query, methods=("POST",))
    add_routes(bp, DS + "/query", live_query, methods=("POST",), prefixes=("v3",))
    return bp
