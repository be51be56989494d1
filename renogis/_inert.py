"""Make user strings inert in the files renogis writes: CSV cells that cannot start a formula, Markdown
and HTML text that cannot inject markup or break a table row.

CSV follows the OWASP recommendation for formula injection: a text cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is prefixed with a single quote, so a spreadsheet shows it as
text and never evaluates it. Numbers stay numbers: numeric columns are untouched, and a text cell that
is a plain number (``-12.5``) is left as it is, since a spreadsheet reads it as that number anyway.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

__all__ = ["FORMULA_PREFIXES", "csv_safe", "md_escape", "neutralise"]

#: First characters that make a spreadsheet treat a cell as a formula (OWASP, CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise(value: object) -> object:
    """One cell: a string that could start a formula gets a leading ``'``; anything else is returned as is.

    Examples
    --------
    >>> neutralise("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> neutralise("-12.5"), neutralise(3), neutralise("永福小区")
    ('-12.5', 3, '永福小区')
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot start a spreadsheet formula (numeric columns untouched).

    Examples
    --------
    >>> t = pd.DataFrame({"name": ["=1+1", "@SUM(A1)", "ok", "-3"], "households": [1, 2, 3, 4]})
    >>> csv_safe(t)["name"].tolist()
    ["'=1+1", "'@SUM(A1)", 'ok', '-3']
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or isinstance(s.dtype, pd.StringDtype) or str(s.dtype) == "category":
            values = s.astype(object).to_numpy()
            is_str = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
            if not is_str.any():
                continue
            first = np.array([v[:1] if isinstance(v, str) else "" for v in values], dtype=object)
            risky = is_str & np.isin(first, FORMULA_PREFIXES)
            if risky.any():
                values = values.copy()
                for i in np.flatnonzero(risky):
                    values[i] = neutralise(values[i])
                out[col] = pd.Series(values, index=s.index, dtype=object)
    return out


_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#])")
_WS = re.compile(r"[\r\n\t\v\f\u2028\u2029]+")


def md_escape(value: object) -> str:
    """User text for a Markdown sheet: one line, HTML escaped, Markdown specials backslash-escaped.

    Examples
    --------
    >>> md_escape("<script>alert(1)</script>|x\\n**y**")
    '&lt;script&gt;alert(1)&lt;/script&gt;\\\\|x \\\\*\\\\*y\\\\*\\\\*'
    """
    text = _WS.sub(" ", str(value))
    text = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", text)
