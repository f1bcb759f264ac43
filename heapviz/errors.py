"""Exceptions heapviz raises; cli.py turns them into one stderr line and an exit code."""

from __future__ import annotations


class HeapvizError(Exception):
    """Base class for every error heapviz reports to the user."""

    def message(self) -> str:
        return str(self)


class InputError(HeapvizError):
    """A profile that cannot be read: missing, unreadable, or malformed.

    `line` is 1-based and 0 when the problem is not tied to one line.
    """

    def __init__(self, path: str, what: str, line: int = 0) -> None:
        super().__init__(what)
        self.path = path
        self.line = line
        self.what = what

    def message(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.what}"

    def __reduce__(self) -> tuple[type, tuple[str, str, int]]:  # picklable across worker processes
        return (type(self), (self.path, self.what, self.line))


class UnrecognizedFormat(InputError):
    """The file is readable but is not any format heapviz knows ("not my format")."""


class UsageError(HeapvizError):
    """Bad options or arguments; the CLI exits with status 2."""


class ToolMissing(HeapvizError):
    """An external program heapviz needs (dot, llvm-symbolizer…) is not installed."""

    def __init__(self, tool: str, package: str) -> None:
        super().__init__(
            f"'{tool}' not found; install it with: apt-get install {package}"
        )
        self.tool = tool
        self.package = package

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.tool, self.package))


class OutputError(HeapvizError):
    """An output file cannot be written."""

    def __init__(self, path: str, what: str) -> None:
        super().__init__(f"{path}: {what}")
        self.path = path
        self.what = what

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.path, self.what))


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an exception so that outputs and temporary files are cleaned up."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def install_signal_handlers() -> None:
    """Turn SIGTERM into Terminated (Ctrl-C is KeyboardInterrupt already); main thread only."""
    import contextlib
    import signal

    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, _on_sigterm)


def ignore_signals() -> None:
    """SIGTERM and SIGINT ignored from now on: the work is done and its outputs complete."""
    import contextlib
    import signal

    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
