"""Pausing Python's cyclic garbage collector for the length of a bulk operation.

The collector runs whenever allocations outnumber deallocations by a threshold, and each run
walks the objects that survived the last ones. A bulk write keeps every row it builds alive
until it is done (rows, their checks, their history entries), so the collector keeps walking a
growing heap that holds no garbage: in a 100,000-row import it took about 30 % of the time
(docs/performance.md, §d). Such work runs inside `gc_paused()`, used as a context manager or a
decorator. Reference counting still frees what is not in a cycle; cycles made meanwhile (an
exception's traceback, say) wait for the next collection after the pause.

Pauses nest and may overlap across threads: the collector is enabled again when the last one
ends, and only if it was enabled when the first one began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
