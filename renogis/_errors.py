"""Exceptions raised by renogis.

Every error a user can cause is a :class:`RenogisError`. The command line turns it
into one line on stderr and exit code 2; the library lets it propagate.
"""

from __future__ import annotations

__all__ = ["RenogisError", "InputError", "CRSError", "InfeasibleError", "StandardsError"]


class RenogisError(Exception):
    """Base class of all errors renogis raises on purpose."""


class InputError(RenogisError, ValueError):
    """Input data is missing, malformed or inconsistent.

    The message names the file, layer, row ids and column, what was expected and
    how to fix it. ``problems`` holds every problem found when validation
    collected several.
    """

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems) if problems else [message]


class CRSError(InputError):
    """A layer has no CRS, an unusable CRS, or coordinates that contradict it."""


class StandardsError(InputError):
    """A standards (TOML) file is malformed."""


class InfeasibleError(RenogisError, RuntimeError):
    """Planner constraints that cannot all be met (e.g. keep-together vs keep-apart)."""
