"""The listener's logging, applied in every process uvicorn starts.

With `--workers N` uvicorn spawns fresh interpreters that inherit nothing the parent configured;
it applies its `log_config` in each of them, so the configuration is a dictConfig handed to
uvicorn, never `logging.basicConfig` in the parent alone. The process id is in every line: with
several workers it says which one served a request.
"""

from __future__ import annotations

from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"


def logging_config(level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for the listener at `level` (debug, info, warning, error)."""
    level = level.upper()
    return {
        "version": 1,
        # uvicorn's and the stripe SDK's loggers exist before this runs: keep them, reconfigured.
        "disable_existing_loggers": False,
        "formatters": {"default": {"format": LOG_FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # uvicorn's own loggers go through the root handler, in the same format.
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            # Off: it prints query strings, and the OAuth callback's holds the code and state
            # (the app's AccessLog middleware logs paths only).
            "uvicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            # The SDK logs request and response bodies at DEBUG, and OAuth codes at INFO.
            "stripe": {"level": "WARNING", "handlers": [], "propagate": True},
        },
    }
