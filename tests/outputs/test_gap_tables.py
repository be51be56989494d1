"""renogis.outputs.gap_tables: the access and gap tables as files (renogis.access writes none)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from renogis import access as acc
from renogis._errors import InputError
from renogis.outputs.gap_tables import write_gap_outputs


def test_access_imports_no_writer():
    code = ("import sys, renogis.access; "
            "print(sorted(m for m in sys.modules if m.startswith('renogis.outputs')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_write_gap_outputs(tmp_path):
    access = pd.DataFrame([["A", "clinic", np.nan, 300.0, False, "unreachable", np.nan, None]],
                          columns=list(acc.ACCESS_COLUMNS))
    gaps = pd.DataFrame([["compound", "A", "D1", "clinic", 10, 0, 10, 0.0, 0, 10, 0.0, np.nan, 300.0,
                          1.0, 0.0, 1.0, "person", np.nan, "ok"]], columns=list(acc.GAP_COLUMNS))
    files = write_gap_outputs(access, gaps, tmp_path / "out", lang="en")
    assert [f.name for f in files] == ["service_access.csv", "service_gaps.csv", "service_gaps.xlsx"]
    assert files[0].read_text(encoding="utf-8-sig").splitlines() == [
        ",".join(acc.ACCESS_COLUMNS), "A,clinic,,300.0,False,unreachable,,"]
    assert len(pd.read_excel(files[2])) == 1
    with pytest.raises(InputError, match="unknown language"):
        write_gap_outputs(access, gaps, tmp_path / "bad", lang="de")
    assert not (tmp_path / "bad").exists()
