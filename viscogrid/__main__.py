"""``python -m viscogrid``: the same command line as the ``viscogrid`` console script."""
import sys

from viscogrid.cli import main

sys.exit(main())
