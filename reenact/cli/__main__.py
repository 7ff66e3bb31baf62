"""`python -m reenact.cli` (and `torchrun ... -m reenact.cli train`) run the command line."""

import sys

from reenact.cli import main

sys.exit(main())
