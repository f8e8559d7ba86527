"""``taste2vec serve`` under tracemalloc, for ``bench/load_test.py --trace-memory DIR``.

Bench-only: a debugging harness, not part of the package. It runs the CLI's ``serve``
with the arguments it was given; tracing starts when the process gets ``SIGUSR1`` (the
driver sends it once the server is ready, so start-up's imports and model load run at
full speed and are not in the traces) with ``T2V_TRACE_FRAMES`` frames per allocation
(default 8; ``0`` traces nothing and records only the census below, which costs about a
second per reading). From then on a daemon thread takes a first snapshot at once and then one
every ``T2V_TRACE_INTERVAL_S`` seconds (default 30), appending one JSON line per
snapshot to ``$T2V_TRACE_DIR/memory.jsonl``:

- ``t``: seconds since tracing began; ``rss_mib``: this process's resident memory;
- ``traced_mib``: what tracemalloc counts as live (Python objects and numpy buffers),
  ``tracemalloc_overhead_mib``: what tracing itself costs;
- ``malloc``: glibc ``mallinfo2()``: ``in_use_mib`` (uordblks: what C ``malloc`` handed out
  and was not freed: Python's, SQLite's, torch's), ``free_in_heap_mib`` (fordblks: freed
  but kept by the allocator), ``mmap_mib`` (hblkhd), ``arena_mib``;
- ``objects``: object counts of the 25 commonest types among those ``gc.get_objects()``
  lists (the app freezes what was alive at start-up: those are not listed);
- ``containers``: the sizes of the in-memory maps that grow with users or requests:
  the service's user-state cache, the key cache, the crowd sample, the text tower's cache
  (reached from the app), the stream worker's dedup ids not yet durable, panes and keyed
  states, and the live torch tensors created after start-up (count and KiB) and
  ``Taste2Vec`` instances (torch allocates outside tracemalloc's view);
- ``growth``: the 25 tracebacks whose live size grew most since the first snapshot
  (``tracemalloc.Snapshot.compare_to(..., "traceback")``), and ``growth_recent``: the same
  since the previous snapshot.

Snapshots hold the GIL for a while (seconds on a large heap): requests stall during
them, so the latencies of a traced run are not the service's.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import signal
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo() -> dict[str, float]:
    try:
        libc = ctypes.CDLL("libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return {}
    fn.restype = _MallInfo2
    info = fn()
    return {
        "in_use_mib": info.uordblks / MIB,
        "free_in_heap_mib": info.fordblks / MIB,
        "mmap_mib": info.hblkhd / MIB,
        "arena_mib": info.arena / MIB,
    }


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MIB


_ROOTS: list[Any] = []  # the app, captured from create_app


def _app_maps(out: dict[str, int]) -> None:
    """The maps reached from the app. The app calls ``gc.freeze()`` after start-up, and
    frozen objects (the service, its engine, the model) are not in ``gc.get_objects()``."""
    for app in _ROOTS:
        state = app.state
        cache = getattr(state, "key_cache", None)
        if cache is not None:
            out["api.key_cache"] = len(cache)
        service = getattr(state, "service", None)
        if service is None:
            continue
        out["service.user_states"] = len(service._states)
        crowd = service.engine._crowd.prefs  # the refit's sample (<= BayesConfig.max_users)
        out["engine.crowd_users"] = len(crowd)
        out["engine.crowd_pairs"] = sum(len(v) for v in crowd.values())
        encoder = service.model.text_encoder
        memory = getattr(encoder, "_memory", None)
        if memory is not None:
            out["text_encoder.memory"] = len(memory)
        arms = getattr(service, "arms", None)
        if arms is not None:
            out["arms.user_states"] = len(arms._states)


def _census() -> tuple[collections.Counter[str], dict[str, int]]:
    """Object counts by type (of the objects ``gc.get_objects()`` lists: those created
    after start-up), and the sizes of the maps named in the module docstring."""
    counts: collections.Counter[str] = collections.Counter()
    out: dict[str, int] = {}
    _app_maps(out)
    torch = sys.modules.get("torch")
    tensor = None if torch is None else torch.Tensor
    for obj in gc.get_objects():
        kind = type(obj).__name__
        counts[kind] += 1
        if kind == "PartitionState":
            # ids not durable yet (pending + the checkpoint in flight); the rest are in
            # the state store's dedup table
            out["stream.dedup_ids"] = out.get("stream.dedup_ids", 0) + len(obj.unsaved_ids)
            out["stream.panes"] = out.get("stream.panes", 0) + len(obj.panes)
            # keyed states in memory: the recently used ones (at most the worker's
            # max_keys per aggregate plus the unconfirmed ones); the rest are in the
            # state store's keyed table
            for name, states in obj.keyed.items():
                key = f"stream.keyed.{name}"
                out[key] = out.get(key, 0) + len(states)
        elif kind == "ReplayBuffer":
            out["learner.replay_ids"] = len(obj._ids)
        elif tensor is not None and isinstance(obj, tensor):
            # torch allocates outside tracemalloc's view: count the live tensors' bytes
            # (views share storage, so this can over-count; it is a census, not a sum)
            out["torch.tensors"] = out.get("torch.tensors", 0) + 1
            nbytes = obj.element_size() * obj.nelement()
            out["torch.tensor_kib"] = out.get("torch.tensor_kib", 0) + nbytes // 1024
        elif kind == "Taste2Vec":
            out["model.instances"] = out.get("model.instances", 0) + 1
    return counts, out


def _growth(now: tracemalloc.Snapshot, then: tracemalloc.Snapshot) -> list[dict[str, Any]]:
    rows = []
    for stat in now.compare_to(then, "traceback")[:25]:
        rows.append(
            {
                "size_diff_kib": round(stat.size_diff / 1024, 1),
                "size_kib": round(stat.size / 1024, 1),
                "count_diff": stat.count_diff,
                "traceback": [f"{f.filename}:{f.lineno}" for f in stat.traceback][::-1],
            }
        )
    return rows


def _trace(out: Path, interval: float, go: threading.Event, frames: int) -> None:
    go.wait()
    if frames > 0:
        tracemalloc.start(frames)
    t0 = time.monotonic()
    filters = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, __file__),
    ]
    first: tracemalloc.Snapshot | None = None
    previous: tracemalloc.Snapshot | None = None
    # With T2V_TRACE_FRAMES=0 nothing is traced: the census alone (counts, maps, malloc),
    # cheap enough (about a second per reading) for a long run's plateau reading.
    while True:
        started = time.monotonic()
        snap = tracemalloc.take_snapshot().filter_traces(filters) if frames > 0 else None
        counts, containers = _census()
        traced, _peak = tracemalloc.get_traced_memory()
        line: dict[str, Any] = {
            "t": round(started - t0, 1),
            "rss_mib": round(_rss_mib(), 1),
            "traced_mib": round(traced / MIB, 1),
            "tracemalloc_overhead_mib": round(tracemalloc.get_tracemalloc_memory() / MIB, 1),
            "malloc": {k: round(v, 1) for k, v in _mallinfo().items()},
            "objects": dict(counts.most_common(25)),
            "containers": containers,
            "growth": _growth(snap, first) if snap and first else [],
            "growth_recent": _growth(snap, previous) if snap and previous else [],
        }
        line["snapshot_s"] = round(time.monotonic() - started, 1)
        with (out / "memory.jsonl").open("a") as fh:
            fh.write(json.dumps(line) + "\n")
        if first is None:
            first = snap
        previous = snap
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def main() -> None:
    out = Path(os.environ["T2V_TRACE_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    interval = float(os.environ.get("T2V_TRACE_INTERVAL_S", "30"))
    frames = int(os.environ.get("T2V_TRACE_FRAMES", "8"))
    go = threading.Event()
    signal.signal(signal.SIGUSR1, lambda _signum, _frame: go.set())
    threading.Thread(
        target=_trace, args=(out, interval, go, frames), daemon=True, name="trace"
    ).start()
    import taste2vec.api
    from taste2vec.cli import main as cli_main

    create_app = taste2vec.api.create_app

    def capturing(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)
        _ROOTS.append(app)
        return app

    taste2vec.api.create_app = capturing

    sys.argv = ["taste2vec", *sys.argv[1:]]
    cli_main()


if __name__ == "__main__":
    main()
