"""``python -m glacierscale`` runs the command line."""

import sys

from glacierscale.cli import main

sys.exit(main())
