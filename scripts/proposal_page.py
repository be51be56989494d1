"""Render page 1 of the demo's district proposal PDF to maps/proposal_page.png (for the README).

Needs ``pdftoppm`` (Debian package poppler-utils) at development time only; renogis itself does not.

Usage::

    .venv/bin/renogis demo --out demo-output --tiles none
    .venv/bin/python scripts/proposal_page.py [demo-output/proposals/D002.pdf]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "maps" / "proposal_page.png"


def main(argv: list[str]) -> int:
    pdf = Path(argv[0]) if argv else Path("demo-output/proposals/D002.pdf")
    if shutil.which("pdftoppm") is None:
        print("pdftoppm not found: apt-get install poppler-utils", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", "90", "-png", "-f", "1", "-l", "1", str(pdf), f"{tmp}/p"], check=True)
        page = next(Path(tmp).glob("p*.png"))
        OUT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(page, OUT)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
