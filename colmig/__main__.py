"""``python -m colmig``."""

import sys

from colmig.cli import main

sys.exit(main())
