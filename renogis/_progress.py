"""Progress inside long steps: off in the library, a tqdm bar in the CLI on a terminal.

Computation modules wrap their long loops in :func:`track`; it yields the items unchanged and, only when
the CLI has switched reporting on (:func:`reporting`), draws a bar on stderr. Library users see nothing
unless they opt in the same way.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["track", "reporting"]

T = TypeVar("T")
_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("renogis_progress", default=False)


@contextlib.contextmanager
def reporting(enabled: bool = True) -> Iterator[None]:
    """Switch progress bars on (or off) for the code run inside the block."""
    token = _enabled.set(enabled)
    try:
        yield
    finally:
        _enabled.reset(token)


def track(items: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Yield ``items``; draw a progress bar on stderr when reporting is on.

    Examples
    --------
    >>> list(track(range(3), desc="categories"))
    [0, 1, 2]
    """
    if not _enabled.get():
        yield from items
        return
    from tqdm import tqdm

    with tqdm(items, desc=desc, total=total, unit=unit, leave=False, dynamic_ncols=True) as bar:
        yield from bar
