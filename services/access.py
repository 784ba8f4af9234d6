"""API keys for ``internal`` layers: created and revoked with the CLI, stored hashed in the catalog folder.

Keys are random 256-bit tokens (``secrets.token_urlsafe``); only their SHA-256
digest is stored, in ``CATALOG/.apikeys.json`` (mode 0600, replaced atomically).
A fast unsalted hash is enough for random tokens of this length: there is no
dictionary to try, unlike passwords (the same reasoning as GitHub's token
storage). The server re-reads the file whenever its modification time or inode
changes, checked on every request, so a revoked key stops working at once, in
every worker process.

Callers present a key as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.
Without a valid key an internal layer does not exist for the caller. A key may be
scoped to some layers (``kaartlaag apikey create NAME --layers a,b``): it then
shows only those internal layers, and every other internal layer stays as
invisible to it as to a caller without a key. The scope is stored with the
key's digest; a key without a scope sees every internal layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.errors import ConfigError, NotFoundError
from layers.catalog import read_catalog, utc_now

#: Key file inside the catalog folder.
KEYS_FILE = ".apikeys.json"
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


def _read(root: Path) -> dict[str, dict[str, Any]]:
    path = _keys_path(root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg}); restore it or remove it and create keys anew") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise ConfigError(f"{path}: expected an object with 'keys'")
    return data["keys"]


def _write(root: Path, keys: Mapping[str, dict[str, Any]]) -> None:
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
    keys = _read(root)
    if name in keys:
        raise ConfigError(f"key name {name!r} exists already in {_keys_path(root)}; revoke it first")
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    record: dict[str, Any] = {"sha256": hash_key(key), "created": utc_now()}
    if scope is not None:
        record["layers"] = scope
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
    """Remove the key called ``name``; requests using it fail from the next request on.

    Raises:
        NotFoundError: when there is no such key.
    """
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


class KeyRing:
    """The server's view of the key file, re-read whenever it changes (checked on every lookup)."""

    def __init__(self, root: Path) -> None:
        self.path = _keys_path(root)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._callers: dict[str, Caller] = {}

    def _current(self) -> dict[str, Caller]:
        """Digest -> the caller presenting a key with that digest."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            self._stamp, self._callers = None, {}
            return self._callers
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        keys = _read(self.path.parent)
                    except ConfigError:
                        # A broken key file grants nothing (fail closed) until it is fixed.
                        keys = {}
                    callers = {}
                    for record in keys.values():
                        scope = _scope(record)
                        callers[str(record.get("sha256", ""))] = Caller(
                            internal=True, layers=None if scope is None else frozenset(scope)
                        )
                    self._callers = callers
                    self._stamp = stamp
        return self._callers

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
