"""Concurrent ``apikey create``/``revoke`` and a serving KeyRing: no key is lost, none comes back (issue 9).

Real processes throughout: the CLI in child processes, and ``services.access`` in
``multiprocessing`` workers started together at a barrier (the CLI's start-up
time spreads its processes out; the workers hit the store at the same moment).
"""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from geo.errors import ConfigError
from services import access
from services.access import KEYS_FILE, LOCK_FILE, KeyRing, create_key, list_keys, revoke_key

#: The project folder: the CLI runs from it (``python -m services.cli``), so it runs this tree's code.
PROJECT = Path(__file__).resolve().parents[1]
#: CLI creates started at once (the issue saw 8 lose half their keys; more make the overlap surer).
CONCURRENT_CREATES = 12
#: Trials of one revoke racing several creates.
REVOKE_TRIALS = 6
#: CLI creates racing each revoke.
CREATES_PER_REVOKE = 4
#: Worker processes hitting the store through ``services.access``.
WORKERS = 4
#: Keys created by each worker.
KEYS_PER_WORKER = 15
#: Create-then-revoke rounds of the churn worker.
CHURN_ROUNDS = 30
#: Longest wait for any child process (seconds).
CHILD_TIMEOUT_S = 120.0
#: The start method of the workers (no fork: the test process may run threads).
SPAWN = multiprocessing.get_context("spawn")


def _start_cli(catalog: Path, *args: str) -> subprocess.Popen[str]:
    """Start ``kaartlaag apikey ARGS --catalog CATALOG`` in a child process."""
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "apikey", *args, "--catalog", str(catalog)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> str:
    """Wait for a CLI child; return its standard output, failing the test on a non-zero exit."""
    out, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == 0, (proc.args, err)
    return out.strip()


def _grants(ring: KeyRing, key: str) -> bool:
    return ring.caller(key).internal


def test_concurrent_cli_creates_store_every_key(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    root.mkdir()
    names = [f"portaal-{i}" for i in range(CONCURRENT_CREATES)]
    procs = {name: _start_cli(root, "create", name) for name in names}
    keys = {name: _finish(proc) for name, proc in procs.items()}

    assert sorted(list_keys(root)) == sorted(names)
    ring = KeyRing(root)
    for name, key in keys.items():
        assert key.startswith(access.KEY_PREFIX), (name, key)
        assert _grants(ring, key), f"the key printed for {name} grants nothing"
    assert len(set(keys.values())) == CONCURRENT_CREATES


def test_a_revoke_racing_cli_creates_stays_revoked(tmp_path: Path) -> None:
    failures = []
    for trial in range(REVOKE_TRIALS):
        root = tmp_path / f"catalog-{trial}"
        key_a = create_key(root, "a")
        ring = KeyRing(root)  # long-lived: used before the revoke, as a server worker would
        assert _grants(ring, key_a)
        names = [f"c{trial}-{i}" for i in range(CREATES_PER_REVOKE)]
        half = CREATES_PER_REVOKE // 2
        procs = {name: _start_cli(root, "create", name) for name in names[:half]}
        revoke = _start_cli(root, "revoke", "a")
        procs |= {name: _start_cli(root, "create", name) for name in names[half:]}

        _finish(revoke)
        # Once revoke has reported success the key is refused, by a new reader and by the old one.
        if _grants(KeyRing(root), key_a) or _grants(ring, key_a):
            failures.append(f"trial {trial}: key a granted right after its revoke returned")
        keys = {name: _finish(proc) for name, proc in procs.items()}
        # ...and it stays refused when the creates that ran alongside have finished.
        if _grants(KeyRing(root), key_a) or _grants(ring, key_a):
            failures.append(f"trial {trial}: key a granted again after the concurrent creates")
        if sorted(list_keys(root)) != sorted(names):
            failures.append(f"trial {trial}: stored {sorted(list_keys(root))}, expected {sorted(names)}")
        fresh = KeyRing(root)
        lost = [name for name, key in keys.items() if not (_grants(fresh, key) and _grants(ring, key))]
        if lost:
            failures.append(f"trial {trial}: created keys that grant nothing: {lost}")
    assert not failures, failures


def _create_many(root: str, prefix: str, count: int, barrier: Any, reports: Any) -> None:
    """Worker: create ``count`` keys, reporting each one once ``create_key`` has returned."""
    barrier.wait(timeout=CHILD_TIMEOUT_S)
    for i in range(count):
        name = f"{prefix}-{i}"
        reports.put(("created", name, create_key(Path(root), name)))


def _churn(root: str, rounds: int, barrier: Any, reports: Any) -> None:
    """Worker: create a key and revoke it again, ``rounds`` times, reporting each step once it has returned."""
    barrier.wait(timeout=CHILD_TIMEOUT_S)
    for i in range(rounds):
        name = f"churn-{i}"
        key = create_key(Path(root), name)
        reports.put(("created", name, key))
        revoke_key(Path(root), name)
        reports.put(("revoked", name, key))


def test_concurrent_writers_and_a_polling_server_never_lose_or_resurrect_a_key(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    root.mkdir()
    barrier = SPAWN.Barrier(WORKERS + 2)  # the workers, the churn worker and the poller below
    reports = SPAWN.Queue()
    workers = [
        SPAWN.Process(target=_create_many, args=(str(root), f"w{n}", KEYS_PER_WORKER, barrier, reports))
        for n in range(WORKERS)
    ]
    workers.append(SPAWN.Process(target=_churn, args=(str(root), CHURN_ROUNDS, barrier, reports)))
    for worker in workers:
        worker.start()

    ring = KeyRing(root)  # the serving side: one long-lived instance, polled throughout
    kept: dict[str, str] = {}  # created by a worker that never revokes it
    revoked: dict[str, str] = {}
    violations: list[str] = []
    polls = 0
    expected_reports = WORKERS * KEYS_PER_WORKER + 2 * CHURN_ROUNDS
    received = 0
    barrier.wait(timeout=CHILD_TIMEOUT_S)
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    writing = True
    while received < expected_reports and writing and time.monotonic() < deadline:
        writing = any(worker.is_alive() for worker in workers)  # a crashed worker sends no more reports
        # First what has returned so far, then the ring: each report is older than the look-up.
        try:
            while True:
                kind, name, key = reports.get(timeout=0.001 if received else 1.0)
                received += 1
                if kind == "revoked":
                    revoked[name] = key
                elif not name.startswith("churn-"):
                    kept[name] = key
        except queue.Empty:
            pass
        missing = [name for name, key in kept.items() if not _grants(ring, key)]
        back = [name for name, key in revoked.items() if _grants(ring, key)]
        if missing or back:
            violations.append(f"poll {polls}: missing {missing}, revoked yet granted {back}")
        polls += 1
    for worker in workers:
        worker.join(timeout=CHILD_TIMEOUT_S)
    assert not violations, violations[:5]
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    assert received == expected_reports
    assert polls > 1
    assert sorted(list_keys(root)) == sorted(kept)
    for reader in (ring, KeyRing(root)):
        assert all(_grants(reader, key) for key in kept.values())
        assert not any(_grants(reader, key) for key in revoked.values())


def _pin_mtime(path: Path, mtime_ns: int) -> None:
    """Give ``path`` the modification time ``mtime_ns``: every write in one tick of a coarse clock."""
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_replacement_in_the_same_tick_with_the_same_size_is_noticed(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    path = root / KEYS_FILE
    key_a = create_key(root, "a")
    create_key(root, "b")
    tick = path.stat().st_mtime_ns
    _pin_mtime(path, tick)
    ring = KeyRing(root)
    assert _grants(ring, key_a)
    read = path.stat()

    # Revoke a and create c (a name of the same length): two replacements in the same tick.
    revoke_key(root, "a")
    _pin_mtime(path, tick)
    key_c = create_key(root, "c")
    _pin_mtime(path, tick)
    now = path.stat()
    assert (now.st_size, now.st_mtime_ns) == (read.st_size, read.st_mtime_ns)  # size and time tell nothing
    assert not _grants(ring, key_a), "the ring missed the revoke"
    assert _grants(ring, key_c), "the ring missed the create"
    # The inode tells: the file the ring holds open keeps its number from being handed on.
    assert now.st_ino != read.st_ino


def test_a_change_waits_for_the_lock_and_gives_up_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "catalog"
    create_key(root, "a")
    fd = os.open(root / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another change in progress
        proc = _start_cli(root, "create", "b")
        time.sleep(1.5)
        assert proc.poll() is None, "create did not wait for the lock"
        assert "b" not in list_keys(root)
        monkeypatch.setattr(access, "LOCK_TIMEOUT_S", 0.05)
        with pytest.raises(ConfigError, match="held the lock"):
            revoke_key(root, "a")
        # Releasing the lock lets the waiting create go through.
        releaser = threading.Timer(0.1, fcntl.flock, (fd, fcntl.LOCK_UN))
        releaser.start()
        assert _finish(proc).startswith(access.KEY_PREFIX)
        releaser.join()
    finally:
        os.close(fd)
    assert sorted(list_keys(root)) == ["a", "b"]
