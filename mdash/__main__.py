"""``python -m mdash``."""

import sys

from mdash.cli import main

sys.exit(main())
