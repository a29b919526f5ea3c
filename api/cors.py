"""CORS: pages served from the origins in ``TRELLIS_CORS_ORIGINS`` may call the API with the user's
cookie or token (a Vite dev server on ``http://localhost:5173``, a front end on its own domain).

Flask-Cors answers for the listed origins only, with credentials allowed, and exposes ``X-Pagination``
so a front end can read the page metadata. Any other origin gets no ``Access-Control-*`` header, so its
browser keeps the answer from its page. A preflight (``OPTIONS``) is let through before authentication
(:func:`api.auth.init_app`): no view runs on it, and a browser never sends credentials with one.
With no origin configured (the default) nothing is added.
"""
from __future__ import annotations

from flask import Flask, Response
from flask_cors import CORS

from core.config import Settings

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
#: headers a page on a listed origin may read besides the CORS-safelisted ones
EXPOSED = ["X-Pagination", "Link", "Retry-After", "Content-Disposition", "X-Request-Id"]
#: seconds a browser may reuse a preflight's answer
MAX_AGE = 600


def init_app(app: Flask, settings: Settings) -> None:
    origins = settings.cors_origin_list  # a malformed entry stops the start here
    if not origins:
        return
    CORS(app, origins=origins, supports_credentials=True, methods=METHODS, expose_headers=EXPOSED,
         max_age=MAX_AGE, vary_header=True)

    @app.after_request
    def _vary_on_origin(response: Response) -> Response:
        # Flask-Cors adds it only with several origins; with one, an answer cached for a request without
        # the Origin header would still be given to the listed page.
        response.vary.add("Origin")
        return response
