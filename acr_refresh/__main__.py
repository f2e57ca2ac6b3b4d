"""``python -m acr_refresh`` is the ``acr-refresh`` command."""

import sys

from .cli import main

sys.exit(main())
