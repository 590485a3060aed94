import sys

from bench.cli import report

sys.exit(report())
