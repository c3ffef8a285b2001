"""python -m demoapp: the same as the demoapp command."""

import sys

from .cli import main

sys.exit(main())
