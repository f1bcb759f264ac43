"""`python -m heapviz`."""

import sys

from heapviz.errors import Terminated, install_signal_handlers

install_signal_handlers()  # before the heavy imports, so that an early SIGTERM is handled too
try:
    from heapviz.cli import run
except KeyboardInterrupt as e:  # interrupted while still starting: nothing was written
    sys.exit(143 if isinstance(e, Terminated) else 130)

try:
    run()  # ends the process
except KeyboardInterrupt as e:  # between run()'s call and its own handlers: nothing was written yet
    sys.exit(143 if isinstance(e, Terminated) else 130)
