"""The versioned layer catalog on disk.

Layout::

    CATALOG/catalog.json                 the index readers use (replaced atomically)
    CATALOG/<layer-id>/<version>/...     one immutable folder per published version
    CATALOG/inputs/versions/<version>/   the build's canonical inputs (internal; ``layers.published_inputs``)
    CATALOG/.staging/                    work in progress, never referenced by catalog.json

A version folder is written completely under ``.staging`` and then renamed
into place (one ``rename`` on the same file system), and only after that is
``catalog.json`` replaced (write to a temporary file, fsync, ``os.replace``).
A build killed at any moment therefore leaves the previous ``catalog.json``
valid and pointing only at complete folders; leftovers in ``.staging`` are
removed by the next build.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from geo.errors import NotFoundError, PublishError

CATALOG_FILE = "catalog.json"
STAGING_DIR = ".staging"
LOCK_FILE = ".lock"
METADATA_FILE = "metadata.json"
CATALOG_SCHEMA_VERSION = 1


class FileEntry(BaseModel):
    """One published file of a layer version (path relative to the catalog root)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    output: str
    kind: Literal["vector", "raster", "metadata", "table"]
    format: str
    media_type: str
    path: str
    bytes: int
    sha256: str


class VersionEntry(BaseModel):
    """A kept version of a layer."""

    model_config = ConfigDict(extra="forbid")

    version: str
    built_at: str
    key: str
    path: str


class LayerEntry(BaseModel):
    """Catalog record of a layer: its current version plus the versions kept."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: dict[str, str]
    description: dict[str, str]
    kind: Literal["vector", "raster"]
    version: str
    built_at: str
    key: str
    code_version: str
    inputs: dict[str, str]
    depends: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, Any]
    parameter_info: dict[str, dict[str, Any]] = Field(default_factory=dict)
    bounds: dict[str, list[float]]
    crs: str
    access: Literal["public", "internal"]
    style_id: str
    minzoom: int
    maxzoom: int
    references: list[str] = Field(default_factory=list)
    files: list[FileEntry]
    metadata: dict[str, Any] = Field(default_factory=dict)
    build_log: list[dict[str, Any]] = Field(default_factory=list)
    versions: list[VersionEntry] = Field(default_factory=list)

    def file(self, output: str, kind: str) -> FileEntry:
        """The file holding ``output`` of ``kind`` in the current version."""
        for f in self.files:
            if f.output == output and f.kind == kind:
                return f
        names = ", ".join(f"{f.output} ({f.kind})" for f in self.files)
        raise NotFoundError(f"layer {self.id} has no {kind} output {output!r}; it has: {names}")


class InputsEntry(BaseModel):
    """Catalog record of the published inputs: the canonical sources of the last build (internal).

    Kept apart from ``layers`` so the inputs never show as a map layer (``/layers``, tiles,
    WMTS, the overview page). Written and read by ``layers.published_inputs``.

    Attributes:
        id: always ``inputs``.
        version: the current version (``<UTC time>-<key prefix>``).
        built_at: when it was published (ISO 8601 UTC).
        key: hash of the source digests and the region definition it was made of.
        path: the version folder, relative to the catalog root.
        crs: the region CRS as the config gives it (``EPSG:28992``).
        access: always ``internal``: for the server's own site runs, not for clients.
        files: every file of the current version (COG, GeoParquet, JSON).
        digests: canonical source -> content digest (``SourceSet.digest``).
        providers: canonical source -> what filled it (``ahn``, ``bgt``, a file source's own name).
        attribution: canonical source -> attribution line of its provider.
        versions: the versions kept, oldest first (``keep_versions`` of the config).
    """

    model_config = ConfigDict(extra="forbid")

    id: Literal["inputs"] = "inputs"
    version: str
    built_at: str
    key: str
    path: str
    crs: str
    access: Literal["internal"] = "internal"
    files: list[FileEntry]
    digests: dict[str, str]
    providers: dict[str, str]
    attribution: dict[str, str] = Field(default_factory=dict)
    versions: list[VersionEntry] = Field(default_factory=list)


class Catalog(BaseModel):
    """The whole ``catalog.json``."""

    model_config = ConfigDict(extra="forbid")

    catalog_version: int = CATALOG_SCHEMA_VERSION
    region: dict[str, Any] = Field(default_factory=dict)
    updated_at: str = ""
    layers: dict[str, LayerEntry] = Field(default_factory=dict)
    #: The published inputs (``layers.published_inputs``); None in catalogs written before them.
    inputs: InputsEntry | None = None


def utc_now() -> str:
    """Current time as ISO 8601 UTC with seconds (``2026-11-25T18:30:00Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_catalog(root: Path) -> Catalog:
    """Read ``catalog.json`` (an empty catalog when there is none yet).

    Raises:
        PublishError: the file exists but is not a valid catalog.
    """
    path = Path(root) / CATALOG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Catalog()
    try:
        return Catalog.model_validate_json(text)
    except ValidationError as exc:
        raise PublishError(f"{path}: not a valid catalog: {exc.errors()[0]['msg']}") from None


def write_catalog(root: Path, catalog: Catalog) -> None:
    """Atomically replace ``catalog.json`` (temp file + fsync + rename + dir fsync)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    catalog.updated_at = utc_now()
    data = catalog.model_dump_json(indent=2).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".catalog-", suffix=".json", dir=root)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, root / CATALOG_FILE)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(root)


def fsync_dir(path: Path) -> None:
    """Flush a directory entry so a rename survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def catalog_lock(root: Path) -> Iterator[None]:
    """Hold the catalog's build lock; a second build fails at once with a clear error."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PublishError(
                f"{root}: another build is publishing to this catalog; try again later"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def new_staging_dir(root: Path, layer_id: str) -> Path:
    """A fresh private folder under ``.staging`` for one layer version."""
    staging = Path(root) / STAGING_DIR
    staging.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{layer_id}-", dir=staging))


@contextlib.contextmanager
def staging_dir(root: Path, layer_id: str) -> Iterator[Path]:
    """A fresh staging folder for one layer version, removed again when the work in it fails.

    On success the caller has renamed the folder into place (:func:`move_into_place`),
    so nothing is left to remove; on any failure (an exception, Ctrl-C) the folder
    and what was written into it are deleted before the error goes on. Published
    versions live outside ``.staging`` and are never touched.
    """
    staged = new_staging_dir(root, layer_id)
    try:
        yield staged
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def clean_staging(root: Path) -> int:
    """Remove what killed builds left in ``.staging``; returns the number removed (hold the lock)."""
    staging = Path(root) / STAGING_DIR
    if not staging.exists():
        return 0
    removed = 0
    for child in staging.iterdir():
        shutil.rmtree(child, ignore_errors=True)
        removed += 1
    return removed


def move_into_place(root: Path, staged: Path, layer_id: str, version: str) -> Path:
    """Rename a complete staged folder to ``<layer-id>/<version>`` (atomic on one file system)."""
    target = Path(root) / layer_id / version
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise PublishError(
            f"{target}: version folder exists already; refusing to overwrite a published version"
        )
    for path in staged.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    os.rename(staged, target)
    fsync_dir(target.parent)
    return target


def prune_versions(root: Path, entry: LayerEntry, keep: int | None) -> list[str]:
    """Drop the oldest versions beyond ``keep`` from the entry and then from disk.

    Call after the catalog that no longer lists them has been written, so a
    reader never follows the catalog to a removed folder.
    """
    if keep is None or len(entry.versions) <= keep:
        return []
    dropped = entry.versions[:-keep]
    entry.versions = entry.versions[-keep:]
    return [v.path for v in dropped]


def remove_version_dirs(root: Path, paths: list[str]) -> None:
    """Delete version folders (relative to ``root``) that the catalog no longer lists."""
    for rel in paths:
        shutil.rmtree(Path(root) / rel, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    """Write JSON with stable key order (used for per-version metadata)."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
