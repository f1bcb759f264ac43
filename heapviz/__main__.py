"""`python -m heapviz`."""

import sys

from heapviz.cli import main

sys.exit(main())
