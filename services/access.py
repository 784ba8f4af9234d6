"""API keys for ``internal`` layers: created and revoked with the CLI, stored hashed in the catalog folder.

Keys are random 256-bit tokens (``secrets.token_urlsafe``); only their SHA-256
digest is stored, in ``CATALOG/.apikeys.json`` (mode 0600).
A fast unsalted hash is enough for random tokens of this length: there is no
dictionary to try, unlike passwords (the same reasoning as GitHub's token
storage).

Concurrency: every change (create, revoke) is one read-modify-write under an
exclusive ``fcntl.flock`` on the sibling file ``CATALOG/.apikeys.json.lock``, so
concurrent changes are serialised and none is lost or undone by another. The new
contents are written to a temporary file, fsynced and renamed over the key file
(``os.replace``), so a reader sees the old file or the new one, never a half-written
one. The lock file is never removed (removing it would let two writers lock two
different files); the kernel releases a lock when its process dies.

The server (:class:`KeyRing`) checks the key file on every request and re-reads it
when it is another file (inode) than the one it read last, or was changed in
place. It keeps the file it read open: while it is open the file system cannot
give its inode number to a newer file, so a replacement is always noticed, even
when two writes fall in the same timestamp tick and leave a file of the same size.
A revoked key therefore stops working at once, in every worker process.

Callers present a key as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.
Without a valid key an internal layer does not exist for the caller. A key may be
scoped to some layers (``kaartlaag apikey create NAME --layers a,b``): it then
shows only those internal layers, and every other internal layer stays as
invisible to it as to a caller without a key. The scope is stored with the
key's digest; a key without a scope sees every internal layer.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from geo.errors import ConfigError, NotFoundError
from layers.catalog import read_catalog, utc_now

#: Key file inside the catalog folder.
KEYS_FILE = ".apikeys.json"
#: Lock file next to it: every read-modify-write of the key file holds an exclusive flock on it.
LOCK_FILE = KEYS_FILE + ".lock"
#: How long a change waits for another one to finish before giving up (seconds).
LOCK_TIMEOUT_S = 30.0
#: Pause between attempts to take the lock (seconds).
LOCK_POLL_S = 0.005
#: Bytes read at a time from the key file.
READ_CHUNK = 65536
#: Prefix of every key (recognisable in logs and secret scanners).
KEY_PREFIX = "kl_"
#: Random bytes per key.
KEY_BYTES = 32
#: Allowed key names (they appear in the CLI only).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
#: Owner read/write only.
KEYS_FILE_MODE = 0o600
BEARER = "bearer "
#: Layer ids as the catalog allows them (a scope names layers by id).
LAYER_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a key (what is stored)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _keys_path(root: Path) -> Path:
    return Path(root) / KEYS_FILE


def _parse(path: Path, text: str) -> dict[str, dict[str, Any]]:
    """The ``keys`` object of a key file's text.

    Raises:
        ConfigError: when the text is not JSON or not an object with ``keys``.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg}); restore it or remove it and create keys anew") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise ConfigError(f"{path}: expected an object with 'keys'")
    return data["keys"]


def _read(root: Path) -> dict[str, dict[str, Any]]:
    path = _keys_path(root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return _parse(path, text)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold the exclusive lock of the key store at ``root`` (created when missing).

    Raises:
        ConfigError: when another process holds the lock for longer than ``LOCK_TIMEOUT_S``.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, KEYS_FILE_MODE)
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ConfigError(
                        f"{path}: another kaartlaag apikey command has held the lock for over "
                        f"{LOCK_TIMEOUT_S:.0f} s; try again when it has finished"
                    ) from None
                time.sleep(LOCK_POLL_S)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _write(root: Path, keys: Mapping[str, dict[str, Any]]) -> None:
    """Replace the key file atomically (temporary file, fsync, rename, fsync of the folder); call under ``_locked``."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".apikeys-", suffix=".json", dir=root)
    try:
        os.fchmod(fd, KEYS_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"keys": dict(keys)}, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, _keys_path(root))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    # The rename itself is durable only once the folder is synced: a revoke must survive a crash.
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def create_key(root: Path, name: str, layers: Iterable[str] | None = None) -> str:
    """Create a key called ``name`` for the catalog at ``root``; return the key (shown once, never stored).

    Args:
        root: the catalog folder (the key file lives in it).
        name: the key's name (who or what uses it).
        layers: ids of the internal layers the key may see; None: every internal layer.
            Each id must be a layer of the catalog (a typo would otherwise grant nothing, silently).

    Raises:
        ConfigError: when the name is malformed or already in use, or the scope is empty,
            malformed or names a layer the catalog does not have.
    """
    if not NAME_PATTERN.match(name):
        raise ConfigError(f"key name {name!r}: use letters, digits, '_', '.', '@' or '-' (at most 64)")
    scope = None if layers is None else _checked_scope(root, layers)
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    record: dict[str, Any] = {"sha256": hash_key(key), "created": utc_now()}
    if scope is not None:
        record["layers"] = scope
    with _locked(root):
        keys = _read(root)
        if name in keys:
            raise ConfigError(f"key name {name!r} exists already in {_keys_path(root)}; revoke it first")
        keys[name] = record
        _write(root, keys)
    return key


def _checked_scope(root: Path, layers: Iterable[str]) -> list[str]:
    """The sorted, distinct layer ids of a scope, each checked against the catalog at ``root``."""
    scope = sorted({layer.strip() for layer in layers if layer.strip()})
    if not scope:
        raise ConfigError("--layers: name at least one layer id (leave the option out for every internal layer)")
    malformed = [layer for layer in scope if not LAYER_ID_PATTERN.match(layer)]
    if malformed:
        raise ConfigError(f"--layers: {', '.join(map(repr, malformed))} is not a layer id")
    known = set(read_catalog(root).layers)
    unknown = [layer for layer in scope if layer not in known]
    if unknown:
        raise ConfigError(
            f"--layers: {', '.join(unknown)} not in the catalog at {root}; "
            f"known: {', '.join(sorted(known)) or 'none (publish the layers first)'}"
        )
    return scope


def revoke_key(root: Path, name: str) -> None:
    """Remove the key called ``name``; once this returns, every server refuses it from the next request on.

    Args:
        root: the catalog folder (the key file lives in it).
        name: the key's name.

    Raises:
        NotFoundError: when there is no such key.
        ConfigError: when the key file is broken, or the lock is held for too long.
    """
    with _locked(root):
        keys = _read(root)
        if name not in keys:
            known = ", ".join(sorted(keys)) or "none"
            raise NotFoundError(f"no API key called {name!r} in {_keys_path(root)}; known: {known}")
        del keys[name]
        _write(root, keys)


@dataclass(frozen=True)
class KeyInfo:
    """What is stored about a key (never the key itself).

    Attributes:
        created: creation time (UTC, ISO 8601).
        layers: ids of the internal layers the key may see; None: every internal layer.
    """

    created: str
    layers: tuple[str, ...] | None


def list_keys(root: Path) -> dict[str, KeyInfo]:
    """Key name -> creation time and scope (the keys themselves are not stored)."""
    return {
        name: KeyInfo(str(record.get("created", "")), _scope(record)) for name, record in sorted(_read(root).items())
    }


def _scope(record: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The layer scope of a stored key record (None: every internal layer)."""
    layers = record.get("layers")
    if layers is None:
        return None
    # A malformed scope grants nothing rather than everything (fail closed).
    return tuple(str(layer) for layer in layers) if isinstance(layers, list) else ()


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key a request presents (``Authorization: Bearer KEY`` or ``X-API-Key``), or None."""
    auth = headers.get("authorization")
    if auth and auth[: len(BEARER)].lower() == BEARER:
        return auth[len(BEARER) :].strip() or None
    key = headers.get("x-api-key")
    return key.strip() or None if key else None


@dataclass(frozen=True)
class Caller:
    """Who is asking: whether the request carried a valid key, and which internal layers that key may see.

    Attributes:
        internal: whether the request carried a valid key.
        layers: the key's scope (ids of internal layers it may see); None: every internal layer.
    """

    internal: bool = False
    layers: frozenset[str] | None = None

    def may_see(self, access: str, layer_id: str) -> bool:
        """Whether a layer ``layer_id`` with ``access`` exists for this caller."""
        if access == "public":
            return True
        return self.internal and (self.layers is None or layer_id in self.layers)


PUBLIC = Caller(internal=False)


def _same_file(st: os.stat_result, seen: os.stat_result) -> bool:
    """Whether ``st`` (the key file now) is the file ``seen`` when it was read, unchanged.

    The inode tells a replacement (``os.replace``) apart; modification time, change
    time and size tell an edit in place apart.
    """
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size) == (
        seen.st_dev,
        seen.st_ino,
        seen.st_mtime_ns,
        seen.st_ctime_ns,
        seen.st_size,
    )


def _read_fd(fd: int) -> str:
    """The whole contents of an open file, from its start."""
    chunks = []
    offset = 0
    while chunk := os.pread(fd, READ_CHUNK, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class _Snapshot:
    """One reading of the key file: its stat when read (None: no file) and the callers it grants."""

    seen: os.stat_result | None
    callers: Mapping[str, Caller]


_NO_FILE = _Snapshot(None, MappingProxyType({}))


class KeyRing:
    """The server's view of the key file, re-read whenever it changes (checked on every lookup).

    The file last read is kept open (one descriptor per KeyRing): its inode then stays
    allocated, so the file that replaces it always has another inode number and the
    change cannot go unnoticed, whatever the timestamp granularity. The contents are
    read through that same descriptor, so what is granted is exactly the file whose
    stat is remembered; the writers' rename makes it a complete file.
    """

    def __init__(self, root: Path) -> None:
        self.path = _keys_path(root)
        self._lock = threading.Lock()
        self._snapshot = _NO_FILE
        self._closer: weakref.finalize | None = None

    def _current(self) -> Mapping[str, Caller]:
        """Digest -> the caller presenting a key with that digest."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._snapshot.seen is not None:
                with self._lock:
                    self._hold(None)
                    self._snapshot = _NO_FILE
            return _NO_FILE.callers
        snapshot = self._snapshot
        if snapshot.seen is not None and _same_file(st, snapshot.seen):
            return snapshot.callers
        with self._lock:
            snapshot = self._snapshot
            if snapshot.seen is None or not _same_file(st, snapshot.seen):  # not read meanwhile by another thread
                snapshot = self._snapshot = self._reload()
            return snapshot.callers

    def _reload(self) -> _Snapshot:
        """Read the key file anew (under ``self._lock``) and keep it open."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self._hold(None)
            return _NO_FILE
        try:
            seen = os.fstat(fd)
            keys = _parse(self.path, _read_fd(fd))
        except ConfigError:
            # A broken key file grants nothing (fail closed); it is read again on the next request.
            os.close(fd)
            self._hold(None)
            return _NO_FILE
        except BaseException:
            os.close(fd)
            raise
        self._hold(fd)
        callers = {}
        for record in keys.values():
            scope = _scope(record)
            callers[str(record.get("sha256", ""))] = Caller(
                internal=True, layers=None if scope is None else frozenset(scope)
            )
        return _Snapshot(seen, callers)

    def _hold(self, fd: int | None) -> None:
        """Keep ``fd`` (the file just read) open in place of the one held so far, closed with this KeyRing."""
        if self._closer is not None:
            self._closer()  # closes the previous descriptor, once
        self._closer = None if fd is None else weakref.finalize(self, os.close, fd)

    def close(self) -> None:
        """Close the key file held open (the next lookup reads it again)."""
        with self._lock:
            self._hold(None)
            self._snapshot = _NO_FILE

    def caller(self, key: str | None) -> Caller:
        """The caller presenting ``key`` (None: no key)."""
        if not key:
            return PUBLIC  # no key: nothing to look up (the key file is not even checked)
        digest = hash_key(key)
        found = PUBLIC
        # compare_digest over every stored digest: no early exit that would time the match.
        for known, caller in self._current().items():
            if hmac.compare_digest(known, digest):
                found = caller
        return found

    def caller_from_headers(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a request with these (lower-case) headers."""
        return self.caller(key_from_headers(headers))
