"""``HttpChunkedGraph``: a client of PyChunkedGraph's v1 API with the ChunkedGraph interface.

Root lookups go through ``roots_binary`` (raw uint64 bodies) in batches of at most 250,000 ids,
after de-duplication. Transient failures (5xx, timeouts, refused connections) are retried with
exponential backoff, then raised as ``Transient``; 4xx answers raise ``InvalidInput``/``NotFound``
with the server's message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import numpy as np
import numpy.typing as npt
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from fixative.chunkedgraph.port import U64
from fixative.chunkedgraph.records import EPOCH
from fixative.clock import utc_now
from fixative.errors import InvalidInput, NotFound, Transient
from fixative.ids import to_uint64

ROOTS_BATCH = 250_000
NAMING = frozenset({"user_name", "user_affiliation"})  # from PyChunkedGraph's user directory
RETRY_STATUSES = (500, 502, 503, 504)


def parse_source(source: str) -> tuple[str, str]:
    """``graphene://http(s)://host/segmentation/table/<id>`` -> (server base URL, table id)."""
    url = source.removeprefix("graphene://")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(f"chunkedgraph source {source!r} is not an http(s) URL")
    table_id = parsed.path.rstrip("/").rsplit("/", 1)[-1]
    if not table_id:
        raise InvalidInput(f"chunkedgraph source {source!r} names no table")
    return f"{parsed.scheme}://{parsed.netloc}", table_id


class HttpChunkedGraph:
    """A PyChunkedGraph server, read through its v1 API."""

    def __init__(
        self,
        server: str,
        table_id: str,
        *,
        token: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 4,
        backoff_s: float = 0.2,
    ) -> None:
        self.server = server.rstrip("/")
        self._table_id = table_id
        self.timeout_s = timeout_s
        self.session = requests.Session()
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            backoff_factor=backoff_s,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "POST"}),  # every call here only reads
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def from_source(cls, source: str, **kwargs: Any) -> HttpChunkedGraph:
        server, table_id = parse_source(source)
        return cls(server, table_id, **kwargs)

    @property
    def table_id(self) -> str:
        return self._table_id

    # -- transport -------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.server}/segmentation/api/v1/table/{self._table_id}/{path}"

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self._url(path)
        try:
            response = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as exc:
            raise Transient(f"chunkedgraph {self.server} unreachable ({path}): {exc}") from None
        if response.status_code >= 500:
            raise Transient(
                f"chunkedgraph {self.server} answered {response.status_code} for {path}: "
                f"{_message(response)}"
            )
        if response.status_code == 404:
            raise NotFound(f"chunkedgraph {self.server}: {path}: {_message(response)}")
        if response.status_code >= 400:
            raise InvalidInput(
                f"chunkedgraph {self.server} refused {path} ({response.status_code}): "
                f"{_message(response)}"
            )
        return response

    def _json(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        data = json.dumps(body) if body is not None else None
        response = self._call(method, path, data=data, params=_clean(params))
        try:
            return response.json()
        except ValueError:
            raise Transient(f"chunkedgraph {self.server} sent invalid JSON for {path}") from None

    # -- reads -----------------------------------------------------------------------------------

    def get_roots(self, supervoxel_ids: npt.ArrayLike, at: datetime | None = None) -> U64:
        svids = to_uint64(np.asarray(supervoxel_ids).ravel())
        if svids.size == 0:
            return svids
        uniq, inverse = np.unique(svids, return_inverse=True)
        stamp = (at or utc_now()).timestamp()
        parts = []
        for lo in range(0, uniq.size, ROOTS_BATCH):
            chunk = np.ascontiguousarray(uniq[lo : lo + ROOTS_BATCH], dtype="<u8")
            response = self._call(
                "POST", "roots_binary", data=chunk.tobytes(), params={"timestamp": stamp}
            )
            got = np.frombuffer(response.content, dtype="<u8")
            if got.size != chunk.size:
                raise Transient(
                    f"chunkedgraph {self.server} returned {got.size} roots for {chunk.size} ids"
                )
            parts.append(got)
        return np.concatenate(parts).astype(np.uint64)[inverse]

    def get_delta_roots(self, since: datetime, until: datetime | None = None) -> tuple[U64, U64]:
        body = self._json(
            "GET",
            "delta_roots",
            timestamp_past=since.timestamp(),
            timestamp_future=(until or utc_now()).timestamp(),
        )
        return _u64(body["old_roots"]), _u64(body["new_roots"])

    def is_latest_roots(
        self, root_ids: npt.ArrayLike, at: datetime | None = None
    ) -> npt.NDArray[np.bool_]:
        ids = _id_list(root_ids)
        if not ids:
            return np.zeros(0, dtype=bool)
        body = self._json("POST", "is_latest_roots", {"node_ids": ids}, timestamp=_ts(at))
        return np.asarray(body["is_latest"], dtype=bool)

    def get_root_timestamps(
        self, root_ids: npt.ArrayLike, latest: bool = False, at: datetime | None = None
    ) -> list[datetime]:
        ids = _id_list(root_ids)
        if not ids:
            return []
        body = self._json(
            "POST",
            "root_timestamps",
            {"node_ids": ids},
            latest=str(latest),
            timestamp=_ts(at or utc_now()),
        )
        return [datetime.fromtimestamp(t, UTC) for t in body["timestamp"]]

    def get_past_id_mapping(
        self, root_ids: npt.ArrayLike, past: datetime, future: datetime
    ) -> tuple[dict[int, list[int]], dict[int, int]]:
        body = self._json(
            "GET",
            "past_id_mapping",
            {"root_ids": _id_list(root_ids)},
            timestamp_past=past.timestamp(),
            timestamp_future=future.timestamp(),
        )
        past_map = {int(k): [int(i) for i in v] for k, v in body["past_id_map"].items()}
        future_map = {int(k): int(v) for k, v in body["future_id_map"].items()}
        return past_map, future_map

    def get_lineage_graph(
        self, root_ids: npt.ArrayLike, past: datetime | None = None, future: datetime | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = self._json(
            "POST",
            "lineage_graph_multiple",
            {"root_ids": _id_list(root_ids)},
            timestamp_past=_ts(past),
            timestamp_future=_ts(future or utc_now()),
        )
        return body

    def get_leaves(self, root_id: int) -> U64:
        return _u64(self._json("GET", f"node/{int(root_id)}/leaves")["leaf_ids"])

    def get_oldest_timestamp(self) -> datetime:
        iso = self._json("GET", "oldest_timestamp")["iso"]
        parsed = datetime.fromisoformat(iso)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    # -- edit history (PyChunkedGraph's logs, passed through) ------------------------------------

    def get_change_log(
        self, root_id: int, filtered: bool = False, past: datetime | None = None
    ) -> dict[str, Any]:
        path = f"root/{int(root_id)}/change_log"
        body: dict[str, Any] = self._json("GET", path, filtered=str(filtered), timestamp=_ts(past))
        return body

    def get_tabular_change_logs(
        self, root_ids: npt.ArrayLike, filtered: bool = True
    ) -> dict[int, list[dict[str, Any]]]:
        ids = _id_list(root_ids)
        if not ids:
            return {}
        body = self._json(
            "GET", "tabular_change_log_many", {"root_ids": ids}, filtered=str(filtered)
        )
        return {int(k): _frame_rows(json.loads(v), drop=NAMING) for k, v in body.items()}

    def get_merge_log(self, root_id: int) -> dict[str, Any]:
        body: dict[str, Any] = self._json("GET", f"root/{int(root_id)}/merge_log")
        return body

    def get_operation_details(self, operation_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        ids = json.dumps([int(i) for i in operation_ids])
        body = self._json("GET", "operation_details", operation_ids=ids)
        return {int(k): v for k, v in body.items()}

    def get_user_operations(
        self,
        user_id: str | None,
        since: datetime | None = None,
        until: datetime | None = None,
        include_undone: bool = False,
    ) -> list[tuple[int, datetime]]:
        body = self._json(
            "GET",
            "user_operations",
            user_id=user_id,
            start_time=_ts(since),
            end_time=_ts(until),
            include_undone=str(include_undone),
        )
        return [(int(r["operation_id"]), r["timestamp"]) for r in _frame_rows(body)]

    def get_children(self, node_id: int) -> U64:
        return _u64(self._json("GET", f"node/{int(node_id)}/children")["children_ids"])

    def get_valid_nodes(
        self, node_ids: npt.ArrayLike, since: datetime | None = None, until: datetime | None = None
    ) -> U64:
        ids = _id_list(node_ids)
        if not ids:
            return np.zeros(0, dtype=np.uint64)
        body = self._json(
            "GET",
            "valid_nodes",
            {"node_ids": ids},
            start_timestamp=_ts(since),
            end_timestamp=_ts(until),
        )
        return _u64(body["valid_roots"])


def _frame_rows(
    columns: dict[str, Any], drop: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Rows of a table written by ``pandas.DataFrame.to_json()`` (``{column: {"0": value}}``),
    ``timestamp`` (epoch ms) as an aware datetime, in index order."""
    keep = [c for c in columns if c not in drop]
    index = sorted({k for c in keep for k in columns[c]}, key=int)
    rows = [{c: columns[c].get(i) for c in keep} for i in index]
    for row in rows:
        if row.get("timestamp") is not None:
            row["timestamp"] = EPOCH + timedelta(milliseconds=int(row["timestamp"]))
    return rows


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:300]
    return str(body)[:300]


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _ts(at: datetime | None) -> float | None:
    return at.timestamp() if at is not None else None


def _id_list(ids: npt.ArrayLike) -> list[int]:
    return [int(i) for i in to_uint64(np.asarray(ids).ravel())]


def _u64(values: list[int]) -> U64:
    return np.array(values, dtype=np.uint64) if values else np.zeros(0, dtype=np.uint64)
