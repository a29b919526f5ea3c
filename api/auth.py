"""Authentication: Flask-Login sessions for browsers, bearer API tokens for programs.

A bearer header wins over a session cookie: with an ``Authorization`` header present the session is
ignored, and a wrong token is a 401 even when the cookie is valid. Unauthenticated API calls get a 401
JSON body, never a redirect; a browser opening the API docs or GraphiQL is sent to the login form.

A session carries the user's session generation (``User.session_generation``) from when it signed in;
logout, a password change and deactivation raise it, so a cookie saved before is refused afterwards.
Failed sign-ins are rate limited per account and per client address (:mod:`api.rate_limits`, in the store
named by ``TRELLIS_RATELIMIT_STORAGE_URI`` so every worker counts together); the form login needs the CSRF
token its form carries. docs/security.md, "Authentication and credentials", says what is promised.
"""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template_string, request, session, url_for
from flask_login import LoginManager, current_user, login_user, logout_user
from werkzeug.middleware.proxy_fix import ProxyFix

from api.rate_limits import RateLimits
from core.errors import Unauthenticated
from core.schemas import Login, UserOut
from core.services import common, users

#: ``static`` and ``swagger_ui.static``: the published GraphiQL and Swagger UI files the two pages load;
#: ``metrics``: no user's credentials, its own token or address check (api/prometheus.py)
PUBLIC_ENDPOINTS = {"landing", "auth.login", "auth.login_form", "healthz", "readyz", "metrics", "static",
                    "swagger_ui.static"}
BROWSER_PAGES = ("/api/v1/docs", "/graphql")
DEFAULT_NEXT = "/api/v1/docs"
#: Session keys: the generation the session was signed in under, and the login form's CSRF token.
GENERATION_KEY = "_trellis_gen"
#: ``app.extensions`` key of the app's :class:`api.rate_limits.RateLimits`
RATE_LIMITS = "trellis_rate_limits"
CSRF_KEY = "_trellis_login_csrf"

LOGIN_FORM = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Trellis · Sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}
input{padding:.4rem}button{padding:.5rem}</style><h1>Trellis</h1>
{% if error %}<p role="alert" style="color:#b00">{{ error }}</p>{% endif %}
<form method="post" action="{{ url_for('auth.login', next=next) }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<label>Email <input name="email" type="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Sign in</button></form></html>"""


def init_app(app: Flask) -> None:
    settings = app.extensions["trellis"].settings
    if settings.proxy_hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops)

    manager = LoginManager()
    manager.init_app(app)

    @manager.user_loader
    def load_from_session(user_id: str):
        if request.headers.get("Authorization"):
            return None  # the header decides; see load_from_header
        return users.user_for_session(user_id, session.get(GENERATION_KEY))

    @manager.request_loader
    def load_from_header(req):
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return users.user_for_token(token.strip())

    @manager.unauthorized_handler
    def unauthorized():
        raise Unauthenticated()

    @app.before_request
    def require_login():
        if request.method == "OPTIONS":
            return None  # a CORS preflight carries no credentials; Flask answers it, no view runs
        if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS \
                or request.endpoint in app.config.get("TRELLIS_PUBLIC_ENDPOINTS", ()):
            return None
        if current_user.is_authenticated:
            return None
        if request.method == "GET" and request.path in BROWSER_PAGES and _asks_for_html():
            page = request.full_path if request.query_string else request.path
            return redirect(url_for("auth.login_form", next=page))
        if request.path == "/graphql" and request.method == "POST":
            return None  # GraphQL answers with an UNAUTHENTICATED error in its own format
        raise Unauthenticated()

    app.extensions[RATE_LIMITS] = RateLimits(settings.ratelimit_storage_uri)
    app.register_blueprint(_blueprint(settings))


def _asks_for_html() -> bool:
    """A browser opening a page: its ``Accept`` names ``text/html`` (Chromium's lists more types at the
    same quality, so the "best" match is not reliably HTML). ``*/*`` alone is a program: it gets a 401."""
    return any(mimetype == "text/html" and quality > 0 for mimetype, quality in request.accept_mimetypes)


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _login_email() -> str:
    """The account a sign-in names, for its rate limit (normalised as ``authenticate`` does)."""
    if request.is_json:
        data = request.get_json(silent=True)
        email = data.get("email") if isinstance(data, dict) else None
    else:
        email = request.form.get("email")
    return (email.strip().lower()[:254] if isinstance(email, str) else "") or "-"


def _too_many(what: str, retry_after: int):
    """429 with ``Retry-After`` in seconds."""
    response = jsonify(code=429, status="Too Many Requests",
                       message=f"Too many {what}. Try again in {retry_after} seconds.")
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def _sign_in_limits(settings) -> list[tuple[str, str, str]]:
    """``(limit, scope, key)`` of the sign-in being made: its account's and its client address's."""
    return [(settings.login_account_limit, "login-account", _login_email()),
            (settings.login_address_limit, "login-address", _client_address())]


def _refuse_past_sign_in_limits(settings):
    """The 429 of a sign-in whose account or address has used up its failures (even with the right
    password), waiting for the later of the two to free one; None otherwise. Remembers the limits, so a
    failure (a 401) is counted once the answer is known (:func:`_count_failed_sign_in`)."""
    limits: RateLimits = current_app.extensions[RATE_LIMITS]
    counted = _sign_in_limits(settings)
    waits = [limits.retry_after(*limit) for limit in counted if limits.exhausted(*limit)]
    if waits:
        return _too_many("failed sign-ins", max(waits))
    g.trellis_sign_in_limits = counted
    return None


def _count_failed_sign_in(response):
    counted = g.pop("trellis_sign_in_limits", None)
    if counted and response.status_code == 401:
        limits: RateLimits = current_app.extensions[RATE_LIMITS]
        for limit in counted:
            limits.hit(*limit)
    return response


def rate_limited(scope: str, limit: str, what: str = "requests"):
    """For a public endpoint: count this request against ``limit`` (``"10 per minute"``, the ``limits``
    notation) per client address under ``scope``, in the sign-in limits' store (so every worker counts
    together; an unreachable store falls back to this process's memory, as the sign-in limit does).
    Returns the 429 response (with ``Retry-After``) when the address is over the limit, else None."""
    limits: RateLimits = current_app.extensions[RATE_LIMITS]
    address = _client_address()
    if limits.hit(limit, scope, address):
        return None
    return _too_many(f"{what} from your address", limits.retry_after(limit, scope, address))


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else the default page.

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so ``/\\t/evil.example`` would
    become ``//evil.example``: only a path of printable characters, starting with one ``/``, with no
    backslash and no scheme or host is kept (a CR or LF in a ``Location`` header was also a 500)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return DEFAULT_NEXT
    if "\\" in target or any(ch.isspace() or not ch.isprintable() for ch in target):
        return DEFAULT_NEXT
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return DEFAULT_NEXT
    return target


def _csrf_token() -> str:
    token = session.get(CSRF_KEY)
    if not isinstance(token, str) or len(token) != 43:
        token = secrets.token_urlsafe(32)
        session[CSRF_KEY] = token
    return token


def _csrf_ok() -> bool:
    expected, sent = session.get(CSRF_KEY), request.form.get("csrf_token", "")
    return isinstance(expected, str) and bool(sent) and hmac.compare_digest(expected.encode(), sent.encode())


def _sign_in(user) -> None:
    login_user(user)
    session[GENERATION_KEY] = users.session_generation(user)
    session.pop(CSRF_KEY, None)


def _form(error: str | None, status: int):
    return render_template_string(LOGIN_FORM, error=error, next=request.args.get("next", ""),
                                  csrf_token=_csrf_token()), status


def _blueprint(settings) -> Blueprint:
    """The /auth routes, built per app with that app's sign-in limits."""
    bp = Blueprint("auth", __name__, url_prefix="/auth")
    bp.after_request(_count_failed_sign_in)

    @bp.get("/login")
    def login_form():
        return _form(None, 200)

    @bp.post("/login")
    def login():
        """Sign in with email and password (JSON, or the form with its CSRF token). Sets the session
        cookie. Failed attempts are limited per account and per address: past the limit, 429."""
        refused = _refuse_past_sign_in_limits(settings)
        if refused is not None:
            return refused
        if request.is_json:
            data = common.validate(Login, request.get_json())
            user = users.authenticate(data["email"], data["password"])
            _sign_in(user)
            return UserOut().dump(user), 200
        if not _csrf_ok():
            return _form("The sign-in form expired. Please try again.", 400)
        try:
            user = users.authenticate(request.form.get("email", ""), request.form.get("password", ""))
        except Unauthenticated as exc:
            return _form(exc.message, 401)
        _sign_in(user)
        return redirect(safe_next(request.args.get("next")))

    @bp.post("/logout")
    def logout():
        """End the session: every session cookie of this user is refused from now on (API tokens stay)."""
        if current_user.is_authenticated and not request.headers.get("Authorization"):
            users.end_sessions(current_user)
        logout_user()
        session.pop(GENERATION_KEY, None)
        return "", 204

    @bp.post("/password")
    def change_password():
        """Change your password (``current_password``, ``new_password``). Your other sessions end; this
        one goes on."""
        user = users.change_own_password(current_user, request.get_json(silent=True) or {})
        if not request.headers.get("Authorization"):
            session[GENERATION_KEY] = users.session_generation(user)
        return "", 204

    @bp.get("/me")
    def me():
        return UserOut().dump(current_user), 200

    return bp
