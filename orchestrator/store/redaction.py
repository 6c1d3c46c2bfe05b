"""Passwords never printed: storage URLs, log lines and Hydra's saved configs redacted.

Light on purpose (no Optuna): the CLI and Hydra's logging use it on every command.
"""

from __future__ import annotations

import logging
import re

from sqlalchemy.engine import make_url


def redact(url: str) -> str:
    """The URL with any password replaced by ***, safe for logs, reports and attributes."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL must still never be echoed whole
        return "<unparseable storage url>"


_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*\\?://[^:/@\s'\"\\]+\\?:)([^\s'\"]+)(@)")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&\s'\"]+)", re.IGNORECASE)


def redact_text(text: str) -> str:
    """Any text (a log line, a saved Hydra config) with passwords in URLs replaced by ***.

    Hydra escapes ``:`` as ``\\:`` in the overrides it saves for multirun jobs; both match.
    """
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***\3", text))


class RedactingFormatter(logging.Formatter):
    """A log formatter that replaces passwords in URLs by *** (Hydra's logging uses it)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))
