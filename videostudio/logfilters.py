"""Log filters."""

from __future__ import annotations

import logging


class ClientErrors(logging.Filter):
    """A request the client got wrong (a 4xx: 403, 404, a bad host, a body too large)
    is a warning without a traceback; Django logs some of them as errors with one.
    Anything else, unexpected errors above all, keeps its level and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
