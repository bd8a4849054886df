"""``python -m synkan.cli``."""
import sys

from . import main

sys.exit(main())
