"""API keys for ``internal`` layers: created and revoked with the CLI, stored hashed in the catalog folder.

Keys are random 256-bit tokens (``secrets.token_urlsafe``); only their SHA-256
digest is stored, in ``CATALOG/.apikeys.json`` (mode 0600, replaced atomically).
A fast unsalted hash is enough for random tokens of this length: there is no
dictionary to try, unlike passwords (the same reasoning as GitHub's token
storage). The server re-reads the file whenever its modification time or inode
changes, checked on every request, so a revoked key stops working at once, in
every worker process.

Callers present a key as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``.
Without a valid key an internal layer does not exist for the caller.
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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.errors import ConfigError, NotFoundError
from layers.catalog import utc_now

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


def create_key(root: Path, name: str) -> str:
    """Create a key called ``name`` for the catalog at ``root``; return the key (shown once, never stored).

    Raises:
        ConfigError: when the name is malformed or already in use.
    """
    if not NAME_PATTERN.match(name):
        raise ConfigError(f"key name {name!r}: use letters, digits, '_', '.', '@' or '-' (at most 64)")
    keys = _read(root)
    if name in keys:
        raise ConfigError(f"key name {name!r} exists already in {_keys_path(root)}; revoke it first")
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    keys[name] = {"sha256": hash_key(key), "created": utc_now()}
    _write(root, keys)
    return key


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


def list_keys(root: Path) -> dict[str, str]:
    """Key name -> creation time (the keys themselves are not stored)."""
    return {name: str(record.get("created", "")) for name, record in sorted(_read(root).items())}


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key a request presents (``Authorization: Bearer KEY`` or ``X-API-Key``), or None."""
    auth = headers.get("authorization")
    if auth and auth[: len(BEARER)].lower() == BEARER:
        return auth[len(BEARER) :].strip() or None
    key = headers.get("x-api-key")
    return key.strip() or None if key else None


@dataclass(frozen=True)
class Caller:
    """Who is asking: whether the request carried a valid key (and so may see internal layers)."""

    internal: bool = False

    def may_see(self, access: str) -> bool:
        """Whether a layer with ``access`` exists for this caller."""
        return access == "public" or self.internal


PUBLIC = Caller(internal=False)


class KeyRing:
    """The server's view of the key file, re-read whenever it changes (checked on every lookup)."""

    def __init__(self, root: Path) -> None:
        self.path = _keys_path(root)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._digests: frozenset[str] = frozenset()

    def _current(self) -> frozenset[str]:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        except FileNotFoundError:
            self._stamp, self._digests = None, frozenset()
            return self._digests
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        keys = _read(self.path.parent)
                    except ConfigError:
                        # A broken key file grants nothing (fail closed) until it is fixed.
                        keys = {}
                    self._digests = frozenset(str(r.get("sha256", "")) for r in keys.values())
                    self._stamp = stamp
        return self._digests

    def caller(self, key: str | None) -> Caller:
        """The caller presenting ``key`` (None: no key)."""
        if not key:
            return PUBLIC  # no key: nothing to look up (the key file is not even checked)
        digest = hash_key(key)
        digests = self._current()
        # compare_digest over every stored digest: no early exit that would time the match.
        valid = False
        for known in digests:
            valid |= hmac.compare_digest(known, digest)
        return Caller(internal=valid)

    def caller_from_headers(self, headers: Mapping[str, str]) -> Caller:
        """The caller of a request with these (lower-case) headers."""
        return self.caller(key_from_headers(headers))
