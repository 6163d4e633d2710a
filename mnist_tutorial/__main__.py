"""`python -m mnist_tutorial`: the command line, where the `mnist-tutorial` script is not on PATH."""

import sys

from .cli import main

sys.exit(main())
