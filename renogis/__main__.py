from renogis.cli import main

raise SystemExit(main())
