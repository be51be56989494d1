"""Screenshot an HTML map in headless Debian Chromium (no network): the README's demo picture.

Usage: python scripts/screenshot.py maps/demo_map.html maps/demo_screenshot.png
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_map import make_driver  # noqa: E402


def main() -> None:
    html = Path(sys.argv[1]).resolve()
    out = Path(sys.argv[2] if len(sys.argv) > 2 else "maps/demo_screenshot.png")
    with tempfile.TemporaryDirectory() as profile:
        drv = make_driver(profile, size=(1400, 900))
        try:
            drv.get(html.as_uri())
            time.sleep(2.0)
            drv.save_screenshot(str(out))
            severe = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        finally:
            drv.quit()
    print(f"screenshot {out} ({out.stat().st_size / 1024:.0f} KB); SEVERE console entries: {len(severe)}")


if __name__ == "__main__":
    main()
