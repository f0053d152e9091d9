"""``python -m mixedmodels`` is the ``mixedmodels`` command."""

import sys

from .cli import main

sys.exit(main())
