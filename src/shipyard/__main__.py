"""Allow ``python -m shipyard``."""

from shipyard.cli.main import main

raise SystemExit(main())
