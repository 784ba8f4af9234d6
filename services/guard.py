"""Per-request guard: a time budget with cooperative cancellation, and caching that follows access now.

``RequestGuard`` is an ASGI middleware around the FastAPI app. For every HTTP
request it starts a ``RequestState`` in a context variable, which is visible
to the worker threads the request's sync code runs in (anyio copies the
context, and the state object is shared, not copied):

* **Time budget.** ``check_deadline()`` raises ``BudgetExceededError`` (503,
  ``Retry-After``) once the request is past ``request_budget_s``. Raster readers
  call it before and after every read (``services.dynamic``), so a request that
  loops over many polygons stops at the next read, also when the client has
  gone, instead of keeping a core busy.
* **Caching follows access now.** The catalog store calls ``mark_internal()``
  whenever it hands out an internal layer (any version), so every answer that
  served one gets ``Cache-Control: private, no-store`` and ``Vary`` on the key
  headers, whatever the route set, downloads and TiTiler included. Every other
  successful GET answer without a ``Cache-Control`` gets a short public one, and every
  answer varies on the key headers (which layers exist depends on the key).
"""

from __future__ import annotations

import contextvars
import logging
import resource
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from services.errors import BudgetExceededError

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Cache-Control of every answer that served an internal layer.
PRIVATE = "private, no-store"
#: The headers a key travels in; answers vary on them.
KEY_HEADERS = ("Authorization", "X-API-Key")
#: Answers from this status on are errors: they get no default Cache-Control.
ERROR_STATUS = 400
#: Bytes per MiB.
MIB = 1024 * 1024


@dataclass
class RequestState:
    """What the guard tracks for one request.

    Attributes:
        deadline: ``time.monotonic()`` after which the request's work is cancelled.
        budget_s: the budget (s), for messages.
        retry_after_s: ``Retry-After`` of a cancelled request.
        internal: whether the answer serves an internal layer.
    """

    deadline: float
    budget_s: float
    retry_after_s: int
    internal: bool = False


_STATE: contextvars.ContextVar[RequestState | None] = contextvars.ContextVar("kaartlaag_request", default=None)


def check_deadline() -> None:
    """Raise ``BudgetExceededError`` when the current request is past its time budget (no-op outside one)."""
    state = _STATE.get()
    if state is not None and time.monotonic() > state.deadline:
        raise BudgetExceededError(
            f"the request took longer than its budget of {state.budget_s:g} s and was cancelled; "
            "ask for a smaller area or image",
            state.retry_after_s,
        )


def mark_internal() -> None:
    """Record that the current request serves an internal layer (its answer must not be cached publicly)."""
    state = _STATE.get()
    if state is not None:
        state.internal = True


def _merge_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with one ``Vary`` that names the key headers (and whatever it named before)."""
    names: list[str] = []
    rest = []
    for key, value in headers:
        if key.lower() == b"vary":
            names += [v.strip() for v in value.decode("latin-1").split(",") if v.strip()]
        else:
            rest.append((key, value))
    for name in KEY_HEADERS:
        if name.lower() not in {n.lower() for n in names}:
            names.append(name)
    return [*rest, (b"vary", ", ".join(names).encode("latin-1"))]


class RequestGuard:
    """ASGI middleware giving each HTTP request a time budget and caching headers that follow access.

    Args:
        app: the application to guard.
        budget_s: time budget (s) of one request.
        retry_after_s: ``Retry-After`` (s) of a request cancelled for time.
        max_age: max-age (s) of GET answers that set no ``Cache-Control`` themselves.
    """

    def __init__(self, app: ASGIApp, *, budget_s: float, retry_after_s: int, max_age: int) -> None:
        self.app = app
        self.budget_s = budget_s
        self.retry_after_s = retry_after_s
        self.default_cache = f"public, max-age={max_age}".encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = RequestState(time.monotonic() + self.budget_s, self.budget_s, self.retry_after_s)
        token = _STATE.set(state)
        is_get = scope["method"] in ("GET", "HEAD")

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                has_cache = any(k.lower() == b"cache-control" for k, _ in headers)
                if state.internal:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", PRIVATE.encode("latin-1")))
                elif not has_cache and is_get and message["status"] < ERROR_STATUS:
                    headers.append((b"cache-control", self.default_cache))
                message["headers"] = _merge_vary(headers)
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        finally:
            _STATE.reset(token)


def limit_worker_memory(limit_mb: int) -> bool:
    """Cap this process's data segment (``RLIMIT_DATA``) at ``limit_mb`` MiB; 0 leaves it as it is.

    An allocation beyond the cap fails with ``MemoryError`` in the request that made
    it (answered 503 by the error table) instead of growing the worker until the
    kernel's OOM killer stops it, or the whole machine. A cap below what the process
    already uses is not applied (it would break the worker at once).

    Returns:
        Whether the cap was applied.
    """
    if limit_mb <= 0:
        return False
    wanted = limit_mb * MIB
    used = _data_segment_bytes()
    if used is not None and used >= wanted:
        logger.warning("worker memory ceiling %d MiB is below the %d MiB in use; not applied", limit_mb, used // MIB)
        return False
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (wanted, hard))
    return True


def _data_segment_bytes() -> int | None:
    """This process's data segment (``VmData`` of ``/proc/self/status``, bytes), None where unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
