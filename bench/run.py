"""`python -m bench.run study=NAME [key=value ...]`: bench.cli.run (the same as the `rnnbench` script)."""

import sys

from bench.cli import run as main

if __name__ == "__main__":
    sys.exit(main())
