"""`python -m mnist_tutorial`: the command line, where the `mnist-tutorial` script is not on PATH."""

from .cli import main

raise SystemExit(main())
