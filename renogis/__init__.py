"""renogis: GIS and spatial planning for district-level renovation of old residential compounds."""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("renogis")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from renogis._errors import CRSError, InfeasibleError, InputError, RenogisError, StandardsError

__all__ = [
    "__version__",
    "RenogisError",
    "InputError",
    "CRSError",
    "InfeasibleError",
    "StandardsError",
]
