import sys

from vwbench.cli import main

sys.exit(main())
