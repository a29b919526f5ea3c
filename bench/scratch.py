"""A database a bench script may fill and throw away (``bench/profile_requests.py``,
``bench/profile_writes.py``)."""
from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from urllib.parse import quote

from sqlalchemy import text

from core.db import make_engine


@contextlib.contextmanager
def scratch_database(url: str | None, prefix: str) -> Iterator[str]:
    """The URL to use: with no ``url``, an SQLite file in a temporary directory; with a PostgreSQL URL, a
    schema of its own (``<prefix>_<random>``) made here and dropped on the way out, errors included; any
    other URL as it is given."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix=f"{prefix}_") as tmp:
            yield f"sqlite:///{os.path.join(tmp, f'{prefix}.db')}"
        return
    if not url.startswith(("postgresql://", "postgres://")):
        yield url
        return
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
