"""Which SQLAlchemy URL the ops store opens: `OPS_DATABASE_URL` as a person writes it, resolved to
a driver this installation has.

The project ships psycopg2. `postgresql://` and `postgresql+psycopg2://` use it; so does
`postgresql+psycopg://` (psycopg 3's spelling, which SQLAlchemy 2.1 also picks for a bare
`postgresql://`) when psycopg 3 is not installed: both speak libpq's URL, so the same server,
user and options are reached. Any other driver is refused with the URL to use instead.
"""

from __future__ import annotations

import importlib.util

from sqlalchemy.engine import URL, make_url

_USE = "use sqlite:///path/to/ops.sqlite or postgresql://user@host:5432/dbname"


def resolve_ops_url(url: str) -> URL:
    """`url` with a driver that is installed; ValueError saying what to write otherwise."""
    parsed = make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite":
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise ValueError(f"OPS_DATABASE_URL driver {driver!r} is not supported; {_USE}")
        return parsed
    if backend != "postgresql":
        raise ValueError(
            f"OPS_DATABASE_URL must be a sqlite:/// or postgresql:// URL, got a {backend!r} URL; "
            + _USE
        )
    explicit = "+" in parsed.drivername
    if not explicit or driver == "psycopg2":
        return parsed.set(drivername="postgresql+psycopg2")
    if driver == "psycopg":
        if importlib.util.find_spec("psycopg") is not None:
            return parsed
        return parsed.set(drivername="postgresql+psycopg2")
    raise ValueError(
        f"OPS_DATABASE_URL driver {driver!r} is not supported (the project ships psycopg2); " + _USE
    )
