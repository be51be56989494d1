from __future__ import annotations

import pyogrio
import pytest

from renogis import datasets
from renogis._errors import InputError


def test_get_path_every_available_data_set():
    assert datasets.available == ("sample", "sample_buildings")
    folder = datasets.sample_path().parent  # the package renogis.data (data/ of the repository)
    for name in datasets.available:
        path = datasets.get_path(name)
        assert path == folder / f"{name}.gpkg"
        assert path.is_file()
    layers = pyogrio.list_layers(datasets.get_path("sample_buildings"))
    assert [layer for layer, _ in layers] == ["buildings"]


def test_sample_path_and_standards_dir():
    assert datasets.sample_path() == datasets.get_path("sample")
    assert datasets.standards_dir() == datasets.sample_path().parent / "standards"
    assert (datasets.standards_dir() / "gb50180_2018.toml").is_file()


@pytest.mark.parametrize("name", ["bubenec", "sample.gpkg", "", ["sample"]])
def test_get_path_unknown_name(name):
    with pytest.raises(
        InputError, match=r"no bundled data set named .*; use one of 'sample', 'sample_buildings'"
    ):
        datasets.get_path(name)
