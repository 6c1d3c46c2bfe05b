"""The run's log file (``<run dir>/cli.log``) holds what the terminal showed.

The answer, the findings table and the promotion decision are printed, not logged, so
Hydra's log file alone missed them (and was empty for an analysis-only or a resumed run):
the one record of a run on a remote box was the least complete. Here each complete line
written to stdout or stderr also goes, as a log record of ``orchestrator.terminal``, to
the root logger's file handlers (so it is timestamped and its passwords are redacted like
every other line). The console handler keeps the stream it was built with, so nothing is
shown twice. A progress bar's carriage-return redraws keep only their last state.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO, cast

TERMINAL = "orchestrator.terminal"


class _Copy:
    """``stream`` as it was, plus each finished line to ``handlers``."""

    def __init__(self, stream: TextIO, handlers: list[logging.Handler], level: int) -> None:
        self._stream, self._handlers, self._level = stream, handlers, level
        self._line = ""

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._line += text
        *lines, self._line = self._line.split("\n")
        for line in lines:
            self._emit(line.rsplit("\r", 1)[-1])
        self._line = self._line.rsplit("\r", 1)[-1]
        return written

    def flush(self) -> None:
        self._stream.flush()

    def close_line(self) -> None:
        """The last line, if it had no newline (an error printed at exit has one)."""
        if self._line.strip():
            self._emit(self._line)
        self._line = ""

    def _emit(self, line: str) -> None:
        if not line.strip():
            return
        record = logging.LogRecord(TERMINAL, self._level, "", 0, line, None, None)
        for handler in self._handlers:
            handler.handle(record)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, ...
        return getattr(self._stream, name)


@contextmanager
def copying_terminal_to_log() -> Iterator[None]:
    """While inside, stdout and stderr lines are copied to the log files (none: no-op)."""
    handlers: list[logging.Handler] = [
        h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)
    ]
    if not handlers:
        yield
        return
    out, err = sys.stdout, sys.stderr
    copies = (_Copy(out, handlers, logging.INFO), _Copy(err, handlers, logging.WARNING))
    sys.stdout, sys.stderr = (cast(TextIO, copy) for copy in copies)
    try:
        yield
    finally:
        for copy in copies:
            copy.close_line()
        sys.stdout, sys.stderr = out, err
