"""Progress bars for long runs (tqdm), silent when disabled or when stderr is not a terminal
in CI logs (tqdm's own ``disable=None`` rule)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def progress_bar(total: int, desc: str, enabled: bool = True, unit: str = "step") -> Iterator:
    """Yield an ``update(n)`` callable that advances a tqdm bar (or does nothing)."""
    if not enabled:
        yield lambda n: None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False, dynamic_ncols=True,
               mininterval=0.5)
    try:
        yield bar.update
    finally:
        bar.close()
