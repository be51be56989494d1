"""Bundled data: the synthetic sample district, its buildings and the standards profiles.

The files travel with the package (``data/`` of the repository, installed as
``renogis.data``). :func:`get_path` gives the path of a bundled data set by name
(see :data:`available`), like ``momepy.datasets.get_path``; every docstring
example of renogis runs on ``get_path("sample")``. The generator of the sample
and of larger synthetic cities is :mod:`renogis.datasets.synthetic`.

Examples
--------
>>> from renogis import datasets
>>> datasets.available
('sample', 'sample_buildings')
>>> datasets.get_path("sample").name
'sample.gpkg'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from renogis._errors import InputError

__all__ = ["available", "get_path", "sample_path", "standards_dir"]

#: File of each bundled data set, by name.
_FILES: dict[str, str] = {
    "sample": "sample.gpkg",
    "sample_buildings": "sample_buildings.gpkg",
}

#: Names of the bundled data sets :func:`get_path` knows.
available: tuple[str, ...] = tuple(_FILES)


def get_path(name: str) -> Path:
    """Path of a bundled data set.

    Parameters
    ----------
    name : str
        One of :data:`available`:

        - ``"sample"``: the SYNTHETIC sample district (modelled on Yongfu Zhonglu,
          Xuecheng), a GeoPackage with the layers ``compounds``, ``parcels``,
          ``facilities``, ``streets``, ``barriers`` and ``gates`` in EPSG:4548;
          made by ``scripts/make_sample.py``.
        - ``"sample_buildings"``: SYNTHETIC residential buildings of the sample
          compounds (layer ``buildings``, 311 buildings); made by
          ``scripts/make_sample_buildings.py``.

    Returns
    -------
    pathlib.Path
        Path of the file.

    Raises
    ------
    InputError
        If ``name`` is not a bundled data set.

    Examples
    --------
    >>> get_path("sample").name
    'sample.gpkg'
    >>> import pyogrio
    >>> [layer for layer, _ in pyogrio.list_layers(get_path("sample"))]
    ['compounds', 'parcels', 'facilities', 'streets', 'barriers', 'gates']
    >>> import geopandas as gpd
    >>> len(gpd.read_file(get_path("sample_buildings"), layer="buildings"))
    311
    """
    try:
        filename = _FILES[name]
    except (KeyError, TypeError):
        raise InputError(
            f"no bundled data set named {name!r}; use one of {', '.join(map(repr, available))}"
        ) from None
    return Path(str(resources.files("renogis.data").joinpath(filename)))


def sample_path() -> Path:
    """Path of the bundled sample GeoPackage (synthetic; modelled on Yongfu Zhonglu, Xuecheng).

    Same as ``get_path("sample")``.

    Examples
    --------
    >>> sample_path().name
    'sample.gpkg'
    >>> sample_path() == get_path("sample")
    True
    """
    return get_path("sample")


def standards_dir() -> Path:
    """Folder of the bundled standards profiles (TOML).

    Examples
    --------
    >>> sorted(p.name for p in standards_dir().glob("*.toml"))
    ['complete_community.toml', 'gb50180_2018.toml']
    """
    return Path(str(resources.files("renogis.data.standards")))
