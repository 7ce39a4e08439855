"""The garbage collector tuned for a long-running service process.

CPython's cyclic collector runs a young collection every 700 container allocations, and every
full collection walks every live object. A service allocates a great deal per request and keeps
what it loaded at start-up (modules, routes, schemas, settings) for its whole life, so it pays
for both again and again. `tune_for_service` runs once after start-up: it collects what start-up
left behind, moves every surviving object into the permanent generation (`gc.freeze`), which no
later collection walks, and raises the young generation's threshold so collections are fewer.
Reference cycles are still collected; only less often.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""Container allocations (net) between two young collections; CPython's default is 700."""


def tune_for_service(young_threshold: int = YOUNG_THRESHOLD) -> None:
    """Collect, freeze the survivors of start-up, and collect the young generation every
    `young_threshold` allocations (older generations keep their thresholds)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
