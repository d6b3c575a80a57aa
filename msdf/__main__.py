"""``python -m msdf`` runs the ``msdf`` command line."""
from msdf.cli import main

raise SystemExit(main())
