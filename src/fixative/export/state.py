"""What a release in the making has written so far, kept next to its files in the staging
directory (``_export_state.json``, replaced whole after every partition): per table, the
partitions finished with their files' sizes and checksums, and whether the table is done. A
rerun with the same request trusts a finished partition whose files are all there at their
recorded sizes, and leaves it out of its reads; a different request starts from nothing."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from fixative.export.parquet import Key, WrittenFile
from fixative.export.target import STATE, Target


class ExportState:
    def __init__(self, target: Target, fingerprint: str) -> None:
        self.target = target
        self.fingerprint = fingerprint
        self.tables: dict[str, dict[str, Any]] = {}

    @classmethod
    def load(cls, target: Target, fingerprint: str) -> ExportState:
        """The staged state of this request; anything staged for another request is removed."""
        state = cls(target, fingerprint)
        path = posixpath.join(target.staging, STATE)
        if target.exists(path):
            saved = json.loads(target.read_bytes(path))
            if saved.get("fingerprint") == fingerprint:
                state.tables = saved.get("tables", {})
                return state
        if target.exists(target.staging):
            target.fs.delete_dir_contents(target.staging)
        return state

    def _table(self, name: str) -> dict[str, Any]:
        return self.tables.setdefault(name, {"pieces": [], "done": False})

    def done(self, name: str) -> bool:
        return bool(self._table(name)["done"]) and self._present(self._table(name)["pieces"])

    def finished_pieces(self, name: str) -> list[Key]:
        """Partitions whose files are all present at their recorded sizes (others are dropped,
        to be written again)."""
        table = self._table(name)
        kept = [p for p in table["pieces"] if self._present([p])]
        table["pieces"] = kept
        return [tuple(p["key"]) for p in kept]

    def _present(self, pieces: list[dict[str, Any]]) -> bool:
        for piece in pieces:
            for f in piece["files"]:
                info = self.target.fs.get_file_info(posixpath.join(self.target.staging, f["path"]))
                if info.size != f["bytes"]:
                    return False
        return True

    def add_piece(self, name: str, key: Key, files: list[WrittenFile]) -> None:
        table = self._table(name)
        table["pieces"] = [p for p in table["pieces"] if tuple(p["key"]) != key]
        table["pieces"].append({"key": list(key), "files": [f.as_dict() for f in files]})
        self.save()

    def finish(self, name: str) -> None:
        self._table(name)["done"] = True
        self.save()

    def files(self, name: str) -> list[dict[str, Any]]:
        """The table's files, sorted by path."""
        found = [f for p in self._table(name)["pieces"] for f in p["files"]]
        keys = ("path", "rows", "bytes", "sha256")  # one order, however the state was read
        return sorted(({k: f[k] for k in keys} for f in found), key=lambda f: str(f["path"]))

    def save(self) -> None:
        body = {"fingerprint": self.fingerprint, "tables": self.tables}
        data = json.dumps(body, sort_keys=True).encode()
        self.target.write_bytes(posixpath.join(self.target.staging, STATE), data)

    def discard(self) -> None:
        self.target.fs.delete_file(posixpath.join(self.target.staging, STATE))
