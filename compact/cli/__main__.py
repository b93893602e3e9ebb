"""``python -m compact.cli``: the same as the ``compact`` command."""

import sys

from compact.cli import main

sys.exit(main())
