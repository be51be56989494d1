"""``python -m renogis``: the command line."""

from renogis.cli import main

raise SystemExit(main())
