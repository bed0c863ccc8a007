"""Log records: one line each, to stderr, the same in the API process and every worker."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    """One line per record, to stderr: the API process and every worker process alike."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
