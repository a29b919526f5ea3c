"""The WSGI entry point for production servers: ``gunicorn 'api.wsgi:app'``.

Builds the app once from the ``TRELLIS_*`` environment, then moves every object that exists at that
point (the app, the composed GraphQL schema, the plugins, the marshmallow schemas: some 300,000 objects)
out of the garbage collector's sight with :func:`gc.freeze`. They live as long as the worker, so
scanning them is pure cost; without it, a full collection falls in the middle of about every tenth
GraphQL request and adds 200–300 ms to it (measured with ``bench/api_lists.py``). With gunicorn's
``--preload`` the freeze happens before the workers fork, which also keeps the frozen pages shared.
"""
from __future__ import annotations

import gc

from api.app import create_app

app = create_app()
gc.freeze()
