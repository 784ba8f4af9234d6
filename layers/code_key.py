"""The code part of a cache key: a module and every first-party module it imports, transitively.

A layer's key must change when any code it runs changes: its own module, the
shared layer helpers and the ``geo`` kernels (a change to ``geo/svf.py`` must
rebuild ``heat-stress``). Imports are read from the source with ``ast`` (no
import side effects), following ``import a.b``, ``from a.b import c`` (``c``
counts when it is a module) and relative imports, within the project's packages.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import cache

#: The project's own packages; imports of anything else (numpy, rasterio, ...) do not enter the key.
FIRST_PARTY = ("geo", "layers", "tiles", "styles")


def _is_first_party(name: str) -> bool:
    return name.split(".", 1)[0] in FIRST_PARTY


def _module_file(name: str) -> str | None:
    """The source file of first-party module ``name``, or None (not first party, not a module)."""
    if not _is_first_party(name):
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.origin and spec.origin.endswith(".py") else None


@cache
def _direct_imports(name: str) -> tuple[str, ...]:
    """First-party modules ``name`` imports (sorted), read from its source."""
    path = _module_file(name)
    if path is None:
        return ()
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), filename=path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            # ``from layers import heat_inputs``: the name is a module itself.
            found.update(f"{base}.{a.name}" for a in node.names if _module_file(f"{base}.{a.name}") is not None)
    return tuple(sorted(m for m in found if m and _is_first_party(m) and _module_file(m) is not None))


def module_closure(name: str) -> tuple[str, ...]:
    """``name`` and every first-party module it imports, directly or not (sorted)."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        mod = stack.pop()
        if mod in seen:
            continue
        seen.add(mod)
        stack.extend(_direct_imports(mod))
    return tuple(sorted(seen))


def code_digest(name: str) -> str:
    """SHA-256 (16 hex) over the source of ``name`` and of every first-party module it imports."""
    h = hashlib.sha256()
    for mod in module_closure(name):
        path = _module_file(mod)
        if path is None:
            continue
        h.update(mod.encode())
        with open(path, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:16]
