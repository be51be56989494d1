"""The service access and gap tables as files (CSV with BOM + XLSX).

:mod:`renogis.access` computes the tables and returns them; this module writes them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from renogis.reports import write_table
from renogis.wording import check_lang

__all__ = ["write_gap_outputs"]


def write_gap_outputs(
    access: pd.DataFrame, gaps: pd.DataFrame, out_dir: str | Path, *, lang: str = "zh"
) -> list[Path]:
    """Write ``service_access.csv``, ``service_gaps.csv`` and ``service_gaps.xlsx``.

    Parameters
    ----------
    access, gaps : pandas.DataFrame
        Tables of :func:`renogis.access.compute_access` and :func:`renogis.access.compute_gaps`.
    out_dir : str or Path
        Output folder (created if missing).
    lang : {"zh", "en"}
        Language of the XLSX (headers, category names, levels, units); the CSV files
        keep the canonical columns and codes whatever ``lang``. Missing distances are
        written as empty cells.

    Returns
    -------
    list of Path
        The files written.
    """
    check_lang(lang)  # before writing anything
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = write_table(access, out / "service_access", formats=("csv",))
    written += write_table(gaps, out / "service_gaps", formats=("csv", "xlsx"), sheet_name="service_gaps",
                           lang=lang)
    return written
