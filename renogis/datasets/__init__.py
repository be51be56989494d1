"""Bundled data: the synthetic sample district and the standards profiles."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["sample_path", "standards_dir"]


def sample_path() -> Path:
    """Path of the bundled sample GeoPackage (synthetic; modelled on Yongfu Zhonglu, Xuecheng).

    Examples
    --------
    >>> sample_path().name
    'sample.gpkg'
    """
    return Path(str(resources.files("renogis.data").joinpath("sample.gpkg")))


def standards_dir() -> Path:
    """Folder of the bundled standards profiles (TOML)."""
    return Path(str(resources.files("renogis.data.standards")))
