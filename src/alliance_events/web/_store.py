"""Feeds rendered once, served by several processes: a store in shared memory.

``alliance-events serve --workers N`` runs one *publisher* (the process that follows the
log, renders the feeds, looks tokens up, and serves the pages and ``/healthz``) and N
*workers* (uvicorn processes on the same listening sockets). The publisher writes each
feed into a directory on a memory file system (``/dev/shm``), and the workers serve the
feeds from it; what a worker cannot answer from the store (a feed never rendered, a
token not published, any other path) it passes to the publisher over a Unix socket.

Why files in ``/dev/shm``, one per piece, named by its SHA-256:

* **rendered once, stored once**: the pieces (``ical._pieces``: the header, ~38 KB
  blocks of VEVENTs, the end) are content-addressed, so a change writes the one block it
  touched (its bytes and its deflate segment) and the feed's manifest (a list of piece
  names: ~40 KB at 50,000 meetings), not the 44 MB feed; and an organisation's feed
  shares every block it has in common with the public one;
* **memory shared, not copied**: workers ``mmap`` the pieces; the pages of a file in
  ``/dev/shm`` are the same physical pages in every process that maps them, so N workers
  add their own small heaps, not N copies of the feeds (a pipe or a socket would copy
  into each worker; ``multiprocessing.shared_memory`` would need the same manifest and
  its own clean-up);
* **atomic**: a manifest is written to a temporary file and renamed over the old one;
  a worker reads a whole old one or a whole new one, and the pieces it names are written
  before it. A piece no manifest names any longer is unlinked; a worker still sending it
  keeps its mapping (the file lives until the last mapping goes).

Workers look at the store's generation file every :data:`LOOK_EVERY` seconds (one
``stat``); calendar clients refresh every few hours, so 50 ms more is nothing.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any, Final

__all__ = ["LOOK_EVERY", "FeedStore", "StoreReader", "Stored"]

LOOK_EVERY: Final = 0.05
_GENERATION: Final = "generation"
_TOKENS: Final = "tokens.json"


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _feed_file(key: str) -> str:
    return key.replace(":", "-") + ".json"


class FeedStore:
    """The publisher's side: writes feeds (pieces and manifests) and the token table."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        (self.path / "pieces").mkdir(parents=True, exist_ok=True)
        (self.path / "feeds").mkdir(exist_ok=True)
        self._written: set[str] = set()  # piece files present
        self._manifests: dict[str, list[str]] = {}  # feed key -> its pieces' files
        self._generation = 0

    def publish(self, key: str, cached: Any, pieces: Any) -> None:
        """Write a feed: its new pieces, then its manifest, then the generation."""
        names = []
        for piece in pieces.pieces:
            name = piece.digest.hex()
            names.append(name)
            if name not in self._written:
                folder = self.path / "pieces"
                _atomic_write(folder / f"{name}.raw", piece.raw)
                _atomic_write(folder / f"{name}.z", piece.deflated())
                self._written.add(name)
        gzip_chunks = pieces.gzip_chunks()
        manifest = {
            "key": key,
            "etag": cached.etag.decode(),
            "tags": sorted(tag.decode() for tag in cached.tags),
            "headers_304": [[n.decode(), v.decode()] for n, v in cached.headers_304],
            "headers_304_gzip": [[n.decode(), v.decode()] for n, v in cached.headers_304_gzip],
            "headers_200": [[n.decode(), v.decode()] for n, v in cached.headers_200],
            "headers_200_gzip": [[n.decode(), v.decode()] for n, v in cached.headers_200_gzip],
            "last_modified": cached.last_modified,
            "last_modified_http": cached.last_modified_http.decode(),
            "pieces": names,
            "gzip_head": gzip_chunks[0].hex(),
            "gzip_tail": gzip_chunks[-1].hex(),
        }
        _atomic_write(self.path / "feeds" / _feed_file(key), json.dumps(manifest).encode())
        self._manifests[key] = names
        self._bump()
        self._collect()

    def publish_tokens(self, tokens: dict[str, uuid.UUID]) -> None:
        """Write the live tokens' SHA-256s (never a token) and their organisations."""
        table = {digest: str(organisation) for digest, organisation in tokens.items()}
        _atomic_write(self.path / _TOKENS, json.dumps(table).encode())
        self._bump()

    def _bump(self) -> None:
        self._generation += 1
        _atomic_write(self.path / _GENERATION, str(self._generation).encode())

    def _collect(self) -> None:
        """Unlink the pieces no manifest names (mapped ones live on until unmapped)."""
        named = {name for names in self._manifests.values() for name in names}
        for name in self._written - named:
            for suffix in (".raw", ".z"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path / "pieces" / f"{name}{suffix}")
        self._written &= named


class Stored:
    """A feed as a worker serves it: mapped pieces and prepared headers (as ``_Cached``)."""

    __slots__ = (
        "chunks", "chunks_gzip", "etag", "headers_200", "headers_200_gzip", "headers_304",
        "headers_304_gzip", "last_modified", "last_modified_http", "tags",
    )

    def __init__(self, manifest: dict[str, Any], maps: dict[str, tuple[Any, Any]]) -> None:
        def headers(name: str) -> list[tuple[bytes, bytes]]:
            return [(n.encode(), v.encode()) for n, v in manifest[name]]

        self.etag = manifest["etag"].encode()
        self.tags = frozenset(tag.encode() for tag in manifest["tags"])
        self.headers_304 = headers("headers_304")
        self.headers_304_gzip = headers("headers_304_gzip")
        self.headers_200 = headers("headers_200")
        self.headers_200_gzip = headers("headers_200_gzip")
        self.last_modified = int(manifest["last_modified"])
        self.last_modified_http = manifest["last_modified_http"].encode()
        names = manifest["pieces"]
        self.chunks = tuple(maps[name][0] for name in names)
        self.chunks_gzip = (
            bytes.fromhex(manifest["gzip_head"]),
            *(maps[name][1] for name in names),
            bytes.fromhex(manifest["gzip_tail"]),
        )


def _map(path: Path) -> Any:
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if not size:
            return b""
        return memoryview(mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ))


class StoreReader:
    """A worker's side: the feeds and tokens of the store, mapped, reloaded on change."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.feeds: dict[str, Stored] = {}
        self.tokens: dict[str, str] = {}  # SHA-256 of a live token -> organisation's key
        self._seen: tuple[int, int] | None = None
        self._files: dict[str, tuple[int, int]] = {}
        self._maps: dict[str, tuple[Any, Any]] = {}  # piece -> (bytes, deflated), mapped
        self._names: dict[str, list[str]] = {}  # feed key -> its pieces

    def look(self) -> bool:
        """Reload what changed since the last look; return whether anything did."""
        try:
            stat = os.stat(self.path / _GENERATION)
        except FileNotFoundError:
            return False
        seen = (stat.st_ino, stat.st_mtime_ns)
        if seen == self._seen:
            return False
        self._seen = seen
        self._load_tokens()
        for entry in os.scandir(self.path / "feeds"):
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            stat = entry.stat()
            mark = (stat.st_ino, stat.st_mtime_ns)
            if self._files.get(entry.name) != mark and self._load_feed(Path(entry.path)):
                self._files[entry.name] = mark
        used = {name for names in self._names.values() for name in names}
        for name in set(self._maps) - used:
            del self._maps[name]  # unmapped once no response holds it any longer
        return True

    def _load_tokens(self) -> None:
        try:
            table = json.loads((self.path / _TOKENS).read_bytes())
        except FileNotFoundError:
            return
        self.tokens = {digest: f"organisation:{org}" for digest, org in table.items()}

    def _load_feed(self, path: Path) -> bool:
        try:
            manifest: dict[str, Any] = json.loads(path.read_bytes())
            for name in manifest["pieces"]:
                if name not in self._maps:
                    folder = self.path / "pieces"
                    self._maps[name] = (_map(folder / f"{name}.raw"), _map(folder / f"{name}.z"))
        except FileNotFoundError:  # replaced meanwhile: the next look reads the new one
            self._seen = None
            return False
        self.feeds[manifest["key"]] = Stored(manifest, self._maps)
        self._names[manifest["key"]] = manifest["pieces"]
        return True
