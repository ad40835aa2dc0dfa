"""The served API under a mixed closed-loop load, against the same statements run directly with
psycopg on as many connections, in the same run (PostgreSQL).

    python bench/load.py --synapses 1000000 [--clients 32] [--duration 60] [--workers 2]

Setup (untimed, its duration printed): ``fixative init``, ``fixative demo-data --synapses N``
and ``fixative materialize demo`` into a fresh live database ``benchl_<random>`` (version
databases prefixed with the same name), then ``fixative serve --workers W`` as a subprocess on a
free loopback port. ``--reuse-home DIR`` skips the build and serves the home a previous
``--keep`` run left (its database and prefix are read from ``DIR/bench.json``).

Every client loops without think time over five kinds of request, round robin from a random
start: ``roots`` (the synapses of 100 random pre root ids at version 1), ``box`` (a spatial box
of 1/10 of the volume's x and y extent), ``count`` (``count=True`` on 10 pre roots), ``live``
(a live query at "now" on 10 pre roots), ``meta`` (the version's metadata). Clients are threads
spread over ``--procs`` processes (the clients' own CPU shares the 2 cores with the server, as it
does with PostgreSQL in the direct phase). After an untimed served warm-up of a quarter of
``--duration`` (gunicorn workers' first requests, PostgreSQL's cache), phases of ``--duration``
seconds each:

1. ``served``: the clients over HTTP (Arrow, zstd buffers, decoded with ``pyarrow.ipc``);
2. ``direct``: the same statements the engine compiles (``VersionQuery`` for roots, box, count;
   a live query's version statement for ``live``; the catalogue row for ``meta``) on one psycopg
   connection per client to the version database (``meta`` on one per process to the live
   one), rows fetched to Python;
3. ``served+writer``: phase 1 with one more client posting 10 synapses per request through the
   annotation API, ``--writer-rate`` POSTs per second (1 by default; the issue measured 0.6),
   then the same with the writer in a closed loop (as fast as it is answered);
4. ``served+build``: phase 1 while ``fixative version create demo`` builds version 2 (its time
   is printed; the phase is as long as ``--duration`` whether the build ends first or not).

Targets (issue 11): no errors; served throughput at least 0.5 of direct; a writer costs the
readers under 20% of their throughput. The last lines are one JSON object per figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import requests
from sqlalchemy.dialects.postgresql import psycopg as pg_dialect

from fixative.query.columns import flat_columns
from fixative.query.compile import VersionQuery
from fixative.query.plan import make_plan
from fixative.query.spec import Filter, QuerySpec
from fixative.store import open_store
from fixative.testing.processes import stop_group

PG = "postgresql://postgres@127.0.0.1:5432"
DS = "demo"
TABLE = "synapses"
KINDS = ("roots", "box", "count", "live", "meta")
Sample = tuple[str, float, str | None]  # kind, seconds, error


@dataclass(frozen=True)
class Workload:
    """What every client draws its requests from (picklable: sent to the client processes)."""

    base_url: str
    live_dsn: str
    version_dsn: str
    roots: list[int]
    low: list[int]  # the volume's extent, voxels, from pre_pt positions
    high: list[int]


def _roots(rng: random.Random, w: Workload, n: int) -> list[int]:
    return rng.sample(w.roots, n)


def _box(rng: random.Random, w: Workload) -> list[list[int]]:
    size = [max(1, (h - lo) // 10) for lo, h in zip(w.low, w.high, strict=True)]
    size[2] = w.high[2] - w.low[2] + 1  # the whole depth: a slab, as a viewer asks
    lo = [rng.randint(a, max(a, b - s)) for a, b, s in zip(w.low, w.high, size, strict=True)]
    return [lo, [a + s for a, s in zip(lo, size, strict=True)]]


class HttpClient:
    def __init__(self, w: Workload) -> None:
        self.w = w
        self.http = requests.Session()
        self.http.headers["Accept-Encoding"] = "zstd"
        self.query = f"{w.base_url}/materialize/api/v3/datastack/{DS}/version/1/table/{TABLE}/query"

    def _arrow(self, url: str, body: dict[str, Any]) -> int:
        response = self.http.post(url, json=body, timeout=120)
        response.raise_for_status()
        return pa.ipc.open_stream(response.content).read_all().num_rows

    def run(self, kind: str, rng: random.Random) -> int:
        w = self.w
        if kind == "roots":
            filters = {TABLE: {"pre_pt_root_id": _roots(rng, w, 100)}}
            return self._arrow(self.query + "?split_positions=True", {"filter_in_dict": filters})
        if kind == "box":
            spatial = {TABLE: {"pre_pt_position": _box(rng, w)}}
            body = {"filter_spatial_dict": spatial}
            return self._arrow(self.query + "?split_positions=True", body)
        if kind == "count":
            filters = {TABLE: {"pre_pt_root_id": _roots(rng, w, 10)}}
            return self._arrow(self.query + "?count=True", {"filter_in_dict": filters})
        if kind == "live":
            body = {
                "table": TABLE,
                "timestamp": datetime.now(UTC).isoformat(),
                "filter_in_dict": {TABLE: {"pre_pt_root_id": _roots(rng, w, 10)}},
            }
            return self._arrow(f"{w.base_url}/materialize/api/v3/datastack/{DS}/query", body)
        response = self.http.get(f"{w.base_url}/materialize/api/v3/datastack/{DS}/version/1")
        response.raise_for_status()
        return len(response.json())


class SqlClient:
    """The engine's own statements for the same requests, run on plain psycopg connections."""

    def __init__(self, w: Workload, columns: Any, live: tuple[threading.Lock, Any]) -> None:
        self.w = w
        self.columns = columns
        self.dialect = pg_dialect.dialect()  # type: ignore[no-untyped-call]
        self.version = connect(w.version_dsn)
        self.live = live  # one per process, for the cheap catalogue reads

    def _statement(self, spec: QuerySpec, count: bool) -> tuple[str, Any]:
        query = VersionQuery(make_plan(spec, [self.columns], 1_000_000), "postgresql")
        select = query.count() if count else query.rows()
        compiled = select.compile(dialect=self.dialect, compile_kwargs={"render_postcompile": True})
        return compiled.string, compiled.params

    def run(self, kind: str, rng: random.Random) -> int:
        w = self.w
        if kind == "meta":
            lock, conn = self.live
            with lock:
                sql = "SELECT * FROM versions WHERE datastack = %s AND version = 1"
                return len(conn.execute(sql, (DS,)).fetchall())
        if kind == "box":
            f = Filter(TABLE, "pre_pt_position", "spatial", tuple(map(tuple, _box(rng, w))))
        else:
            f = Filter(
                TABLE, "pre_pt_root_id", "in", _roots(rng, w, 100 if kind == "roots" else 10)
            )
        sql, params = self._statement(QuerySpec(tables=(TABLE,), filters=(f,)), kind == "count")
        return len(self.version.execute(sql, params).fetchall())


def connect(dsn: str) -> Any:
    """A psycopg connection, waiting out a full server (other users share it) for a while."""
    for attempt in range(30):
        try:
            return psycopg.connect(dsn, autocommit=True)
        except psycopg.OperationalError:
            if attempt == 29:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def _loop(client: Any, stop_at: float, seed: int, out: list[Sample]) -> None:
    rng = random.Random(seed)
    k = rng.randrange(len(KINDS))
    while time.monotonic() < stop_at:
        kind = KINDS[k % len(KINDS)]
        k += 1
        start = time.perf_counter()
        error = None
        try:
            client.run(kind, rng)
        except Exception as exc:  # counted and reported, the loop goes on
            error = f"{type(exc).__name__}: {str(exc)[:160]}"
        out.append((kind, time.perf_counter() - start, error))


def client_process(mode: str, w: Workload, threads: int, duration: float, seed: int) -> Any:
    """One process's share of the clients; returns its samples."""
    clients: list[Any]
    if mode == "direct":
        store = open_store(w.live_dsn)
        columns = flat_columns(store.get_table(TABLE))
        store.dispose()
        live = (threading.Lock(), connect(w.live_dsn))
        clients = [SqlClient(w, columns, live) for _ in range(threads)]
    else:
        clients = [HttpClient(w) for _ in range(threads)]
    out: list[Sample] = []
    stop_at = time.monotonic() + duration
    workers = [
        threading.Thread(target=_loop, args=(c, stop_at, seed * 1000 + i, out))
        for i, c in enumerate(clients)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return out


def run_phase(mode: str, w: Workload, args: argparse.Namespace) -> list[Sample]:
    per = [args.clients // args.procs + (i < args.clients % args.procs) for i in range(args.procs)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.procs) as pool:
        jobs = [
            pool.apply_async(client_process, (mode, w, n, args.duration, args.seed + i))
            for i, n in enumerate(per)
            if n
        ]
        return [s for job in jobs for s in job.get()]


def writer(
    w: Workload, stop: threading.Event, counts: list[int], errors: list[str], rate: float = 0.0
) -> None:
    """One writer: 10 synapses per POST through the annotation API, ``rate`` POSTs per second
    (0: closed loop, the next POST as soon as the last is answered)."""
    url = f"{w.base_url}/annotation/api/v2/aligned_volume/{DS}_av/table/{TABLE}/annotations"
    rng = np.random.default_rng(7)
    http = requests.Session()
    next_at = time.monotonic()
    while not stop.is_set():
        if rate > 0:
            if stop.wait(max(0.0, next_at - time.monotonic())):
                break
            next_at += 1.0 / rate
        rows = []
        for _ in range(10):
            p = [int(rng.integers(lo, hi)) for lo, hi in zip(w.low, w.high, strict=True)]
            q = [p[0], p[1], p[2]]
            rows.append(
                {
                    "pre_pt": {"position": p},
                    "ctr_pt": {"position": p},
                    "post_pt": {"position": q},
                    "size": 1.0,
                }
            )
        try:
            response = http.post(url, json={"annotations": rows}, timeout=120)
            response.raise_for_status()
            counts.append(1)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")


def summary(name: str, samples: list[Sample], duration: float) -> dict[str, Any]:
    out: dict[str, Any] = {"phase": name, "kinds": {}}
    ok_total = sum(1 for _, _, e in samples if e is None)
    out["rps"] = ok_total / duration
    out["errors"] = sum(1 for _, _, e in samples if e is not None)
    out["error_samples"] = sorted({e for _, _, e in samples if e is not None})[:3]
    for kind in KINDS:
        ms = [1000 * s for k, s, e in samples if k == kind and e is None]
        errs = sum(1 for k, _, e in samples if k == kind and e is not None)
        p = np.percentile(ms, [50, 95, 99]) if ms else [float("nan")] * 3
        out["kinds"][kind] = {
            "rps": round(len(ms) / duration, 2),
            "p50_ms": round(float(p[0]), 1),
            "p95_ms": round(float(p[1]), 1),
            "p99_ms": round(float(p[2]), 1),
            "errors": errs,
        }
    print(f"\n{name}: {out['rps']:.1f} requests/s, {out['errors']} errors")
    for kind, k in out["kinds"].items():
        print(
            f"  {kind:<6} {k['rps']:7.1f}/s  p50 {k['p50_ms']:7.1f}  p95 {k['p95_ms']:7.1f}  "
            f"p99 {k['p99_ms']:7.1f} ms  errors {k['errors']}"
        )
    for e in out["error_samples"]:
        print(f"  error: {e}")
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(home: Path, name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        FIXATIVE_HOME=str(home),
        FIXATIVE_DATABASE_URL=f"{PG}/{name}",
        FIXATIVE_VERSION_DATABASE_PREFIX=f"{name}_",
        FIXATIVE_CONFIG=str(home / "fixative.toml"),
    )
    return env


def fixative(env: dict[str, str], *argv: str) -> float:
    start = time.perf_counter()
    command = [str(Path(sys.executable).with_name("fixative")), *argv]
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def build(home: Path, name: str, synapses: int) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = _env(home, name)
    env.pop("FIXATIVE_CONFIG")  # demo-data writes it
    fixative(env, "init")
    data_s = fixative(env, "demo-data", "--synapses", str(synapses))
    mat_s = fixative(_env(home, name), "materialize", DS)
    print(f"setup: demo-data {synapses:,} synapses {data_s:.0f} s, materialize {mat_s:.0f} s")
    (home / "bench.json").write_text(json.dumps({"name": name}))


def drop(name: str) -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s",
            (name, name.replace("_", r"\_") + r"\_%"),
        ).fetchall()
        for (db,) in rows:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def workload(base_url: str, name: str) -> Workload:
    version_dsn = f"{PG}/{name}_{DS}__mat1"
    with psycopg.connect(version_dsn) as conn:
        roots = [r for (r,) in conn.execute(f"SELECT DISTINCT pre_pt_root_id FROM {TABLE}")]
        ext = conn.execute(
            f"SELECT min(pre_pt_position_x), min(pre_pt_position_y), min(pre_pt_position_z), "
            f"max(pre_pt_position_x), max(pre_pt_position_y), max(pre_pt_position_z) FROM {TABLE}"
        ).fetchone()
    assert ext is not None
    return Workload(base_url, f"{PG}/{name}", version_dsn, roots, list(ext[:3]), list(ext[3:]))


def serve(env: dict[str, str], workers: int, port: int) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).with_name("fixative")), "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    log = open(Path(env["FIXATIVE_HOME"]) / "serve.log", "wb")  # noqa: SIM115  # the server's
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(url + "/health/ready", timeout=5).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the server did not start: see serve.log")
        time.sleep(0.5)


def figure(name: str, value: float, unit: str, baseline: Any = None, ratio: Any = None) -> str:
    r = None if ratio is None else round(ratio, 3)
    return json.dumps(
        {"figure": name, "value": round(value, 2), "unit": unit, "baseline": baseline, "ratio": r}
    )


def with_background(
    w: Workload, args: argparse.Namespace, name: str, start: Callable[[], Callable[[], str]]
) -> dict[str, Any]:
    """Phase ``name``: the served load while ``start()``'s work runs; its finish() describes it."""
    finish = start()
    result = summary(name, run_phase("served", w, args), args.duration)
    print(f"  {finish()}")
    return result


def phases(w: Workload, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    warm = argparse.Namespace(**{**vars(args), "duration": max(5.0, args.duration / 4)})
    summary("warm-up (not counted)", run_phase("served", w, warm), warm.duration)
    out = {"served": summary("served", run_phase("served", w, args), args.duration)}
    out["direct"] = summary("direct", run_phase("direct", w, args), args.duration)

    def a_writer(rate: float) -> Callable[[], Callable[[], str]]:
        def start() -> Callable[[], str]:
            stop, counts, errors = threading.Event(), [], []  # type: ignore[var-annotated]
            thread = threading.Thread(target=writer, args=(w, stop, counts, errors, rate))
            thread.start()

            def finish() -> str:
                stop.set()
                thread.join()
                out[f"writes@{rate}"] = {"posts": len(counts), "errors": len(errors)}
                return f"writer: {len(counts)} posts of 10 rows, {len(errors)} errors {errors[:2]}"

            return finish

        return start

    def a_build() -> Callable[[], str]:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("fixative")), "version", "create", DS],
            env=env,
            stdout=subprocess.DEVNULL,
        )

        def finish() -> str:
            code = process.wait()
            out["build_s"] = time.perf_counter() - started
            return f"version build: exit {code}, {out['build_s']:.0f} s from the phase's start"

        return finish

    if args.writer:
        paced = f"served+writer {args.writer_rate:g}/s"
        out["served+writer"] = with_background(w, args, paced, a_writer(args.writer_rate))
        out["served+writer closed loop"] = with_background(
            w, args, "served+writer closed loop", a_writer(0.0)
        )
    out["served+build"] = with_background(w, args, "served+build", a_build)
    return out


def report(out: dict[str, Any], args: argparse.Namespace) -> None:
    served, direct = out["served"]["rps"], out["direct"]["rps"]
    print(f"\nserved / direct throughput: {served / direct:.2f} (target >= 0.5)")
    lines = [
        figure(
            "load_served_rps",
            served,
            "requests/s",
            f"direct psycopg {direct:.1f}/s",
            served / direct,
        ),
        figure("load_served_errors", out["served"]["errors"], "errors", "target 0"),
    ]
    for kind, k in out["served"]["kinds"].items():
        d = out["direct"]["kinds"][kind]
        lines.append(
            figure(f"load_served_{kind}_p50_ms", k["p50_ms"], "ms", f"direct {d['p50_ms']} ms")
        )
        lines.append(figure(f"load_served_{kind}_p99_ms", k["p99_ms"], "ms"))
    for name in ("served+writer", "served+writer closed loop", "served+build"):
        if name in out:
            rps = out[name]["rps"]
            print(f"{name}: readers at {rps / served:.2f} of their throughput alone")
            key = name.replace("served+", "").replace(" ", "_")
            lines.append(
                figure(
                    f"load_{key}_readers_rps",
                    rps,
                    "requests/s",
                    f"readers alone {served:.1f}/s",
                    rps / served,
                )
            )
            lines.append(
                figure(
                    f"load_{key}_errors",
                    out[name]["errors"],
                    "errors",
                    "target 0",
                )
            )
    if "build_s" in out:
        lines.append(figure("load_build_s", out["build_s"], "s"))
    print(f"({args.clients} clients, {args.duration:.0f} s per phase, {args.workers} workers)")
    for line in lines:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--synapses", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=2, help="fixative serve --workers")
    parser.add_argument("--no-writer", dest="writer", action="store_false")
    parser.add_argument(
        "--writer-rate",
        type=float,
        default=1.0,
        help="POSTs per second of the paced writer phase (a closed-loop writer phase follows)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the home and databases")
    parser.add_argument("--reuse-home", type=Path, help="a home a --keep run left")
    args = parser.parse_args()
    if args.reuse_home:
        home = args.reuse_home
        name = json.loads((home / "bench.json").read_text())["name"]
    else:
        home = Path(tempfile.mkdtemp(prefix="fixative-load-"))
        name = f"benchl_{uuid.uuid4().hex[:10]}"
    server = None
    try:
        if not args.reuse_home:
            build(home, name, args.synapses)
        env = _env(home, name)
        port = _free_port()
        server = serve(env, args.workers, port)
        w = workload(f"http://127.0.0.1:{port}", name)
        print(f"{len(w.roots):,} pre roots; volume {w.low}..{w.high}; server on port {port}")
        report(phases(w, env, args), args)
    finally:
        if server is not None:
            stop_group(server)
        if not args.keep and not args.reuse_home:
            drop(name)
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
