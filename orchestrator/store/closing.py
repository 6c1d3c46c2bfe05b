"""One way out of a ``with`` block for what holds a connection, an engine or a file open.

The store's ledger and the workers' claim locks both must give back what they hold
however their block ends (an exception included, which then goes on up), so they share
this ``__exit__`` rather than each spelling it.
"""

from __future__ import annotations

from types import TracebackType


class ClosesOnExit:
    """``with thing:`` calls ``thing.close()`` on every way out and never swallows an error."""

    def close(self) -> None:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
