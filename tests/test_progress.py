"""Progress bars inside long steps: silent in the library, drawn only when the CLI switches them on."""

from __future__ import annotations

from renogis._progress import reporting, track


def test_track_is_silent_unless_reporting(capsys):
    assert list(track(range(4), desc="categories")) == [0, 1, 2, 3]
    assert capsys.readouterr().err == ""
    with reporting(True):
        assert list(track(range(4), desc="categories", unit="category")) == [0, 1, 2, 3]
    err = capsys.readouterr().err
    assert "categories:" in err and "/4 [" in err  # a tqdm bar over the 4 items
    with reporting(False):
        list(track(range(2), desc="x"))
    assert capsys.readouterr().err == ""
