"""``python -m dbnb``: the ``dbnb`` command line."""

import sys

from dbnb.cli import main

if __name__ == "__main__":
    sys.exit(main())
