"""Where a release goes: a local directory, ``s3://bucket/prefix`` or ``gs://bucket/prefix``,
through pyarrow's filesystems (S3 options ride on the URL's query, as pyarrow reads them:
``?endpoint_override=127.0.0.1:9000&scheme=http&region=us-east-1``; credentials come from the
usual environment variables). A ``gs://`` URL takes ``endpoint_override`` and ``scheme`` too,
and ``anonymous=true`` for a server that asks for no credentials (an emulator); otherwise
Google's default credentials are used.

A release is written under a staging name next to the final one (``.NAME.partial``) and
published at the end: a local directory is renamed in one step; on object stores each file is
moved (a server-side copy) and ``manifest.json`` goes last, so a reader who finds the manifest
finds every file it lists. Nothing half-written ever sits under the final name."""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow.fs as pafs

from fixative.errors import InvalidInput

STATE = "_export_state.json"
SCHEMES = ("s3", "gs", "gcs", "file", "")
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Target:
    """``root``: the release's final path within ``fs``; ``storage_options``: the same place
    for deltalake's own object store."""

    url: str
    fs: pafs.FileSystem
    root: str
    scheme: str
    storage_options: dict[str, str] = field(default_factory=dict)

    @property
    def local(self) -> bool:
        return self.scheme in ("", "file")

    @property
    def staging(self) -> str:
        parent, name = posixpath.split(self.root.rstrip("/"))
        return posixpath.join(parent, f".{name}.partial")

    def uri(self, path: str) -> str:
        """``path`` (within ``fs``) as a URI deltalake opens."""
        if self.local:
            return path
        return f"{'gs' if self.scheme == 'gcs' else self.scheme}://{path}"

    def exists(self, path: str) -> bool:
        return bool(self.fs.get_file_info(path).type != pafs.FileType.NotFound)

    def files(self, directory: str) -> list[pafs.FileInfo]:
        """Every file under ``directory``, sorted by path."""
        if not self.exists(directory):
            return []
        found = self.fs.get_file_info(pafs.FileSelector(directory, recursive=True))
        return sorted((f for f in found if f.type == pafs.FileType.File), key=lambda f: f.path)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a small file under a temporary name, then move it into place."""
        temporary = path + ".tmp"
        with self.fs.open_output_stream(temporary) as out:
            out.write(data)
        self.fs.move(temporary, path)

    def read_bytes(self, path: str) -> bytes:
        with self.fs.open_input_stream(path) as stream:
            data: bytes = stream.read()
            return data

    def publish(self, last: str, listed: set[str]) -> None:
        """Move the staged release to its final name; ``last`` (a path relative to the
        release) is moved after everything else. On an object store a publication that was
        cut short is finished by the next: files already moved stay, and files under the name
        that ``listed`` (relative paths) does not hold are removed before ``last`` goes."""
        staging = self.staging
        if self.local:
            self.fs.move(staging, self.root)
            return
        state, tail = posixpath.join(staging, STATE), posixpath.join(staging, last)
        for path in [f.path for f in self.files(staging) if f.path not in (state, tail)]:
            self.move_file(path, posixpath.join(self.root, posixpath.relpath(path, staging)))
        for info in self.files(self.root):
            if posixpath.relpath(info.path, self.root) not in listed:
                self.fs.delete_file(info.path)
        self.move_file(tail, posixpath.join(self.root, last))
        self.fs.delete_dir(staging)

    def move_file(self, source: str, destination: str) -> None:
        self.fs.move(source, destination)


def open_target(url: str) -> Target:
    """The target of ``url``; InvalidInput for a scheme Fixative does not write to or a bucket
    without a prefix (the release needs a name of its own)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("the export target must be a directory or an s3:// or gs:// URL")
    parts = urlsplit(url)
    scheme = parts.scheme.lower() if len(parts.scheme) > 1 else ""  # C:\ is a path
    if scheme not in SCHEMES:
        raise InvalidInput(f"export target {url!r}: scheme {scheme!r} is not one of s3, gs, file")
    if scheme in ("", "file"):
        path = Path(parts.path if scheme == "file" else url).expanduser().absolute()
        if path.parent == path:
            raise InvalidInput(f"export target {url!r} must name a directory below the root")
        return Target(url, pafs.LocalFileSystem(), path.as_posix(), scheme)
    asked = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    try:
        fs = _object_store(scheme, asked)
    except Exception as exc:
        raise InvalidInput(f"export target {url!r}: {exc}") from exc
    root = (parts.netloc + parts.path).rstrip("/")
    if "/" not in root:
        raise InvalidInput(f"export target {url!r} must name a prefix inside the bucket")
    return Target(url, fs, root, scheme, _delta_options(scheme, asked))


def _object_store(scheme: str, asked: dict[str, str]) -> pafs.FileSystem:
    """The filesystem, made without a network call: the S3 region comes from the URL or
    ``AWS_REGION`` (else us-east-1), never from asking AWS where the bucket is."""
    if scheme == "s3":
        return pafs.S3FileSystem(
            region=_region(asked),
            endpoint_override=asked.get("endpoint_override"),
            scheme=asked.get("scheme", "https"),
        )
    options: dict[str, Any] = {k: asked[k] for k in ("endpoint_override", "scheme") if k in asked}
    anonymous = asked.get("anonymous", "false").lower()
    if anonymous not in ("true", "false"):
        raise ValueError(f"anonymous must be true or false, not {anonymous!r}")
    return pafs.GcsFileSystem(anonymous=anonymous == "true", **options)


def _region(asked: dict[str, str]) -> str:
    return asked.get("region") or os.environ.get("AWS_REGION") or DEFAULT_REGION


def _delta_options(scheme: str, asked: dict[str, str]) -> dict[str, str]:
    """deltalake's storage options for the same endpoint pyarrow was given."""
    if scheme != "s3":
        return {}
    options = {"AWS_S3_ALLOW_UNSAFE_RENAME": "true", "AWS_REGION": _region(asked)}
    endpoint = asked.get("endpoint_override")
    if endpoint:
        http = asked.get("scheme", "https")
        options["AWS_ENDPOINT_URL"] = endpoint if "://" in endpoint else f"{http}://{endpoint}"
        if options["AWS_ENDPOINT_URL"].startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    return options


class HashingSink:
    """A writable file that counts and hashes what goes through it (so a file's size and
    sha256 are known the moment it is closed, without reading it back)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self._hash.update(view)
        self.size += view.nbytes
        self._raw.write(view)
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._raw.flush()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._raw.close()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def sha256_of(target: Target, path: str, block: int = 8 << 20) -> tuple[int, str]:
    """A file's size and sha256, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with target.fs.open_input_stream(path) as stream:
        while chunk := stream.read(block):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
