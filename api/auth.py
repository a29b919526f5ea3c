"""Authentication: Flask-Login sessions for browsers, bearer API tokens for programs.

A bearer header wins over a session cookie: with an ``Authorization`` header present the session is
ignored, and a wrong token is a 401 even when the cookie is valid. Unauthenticated API calls get a 401
JSON body, never a redirect; a browser opening the API docs or GraphiQL is sent to the login form.
"""
from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template_string, request, url_for
from flask_login import LoginManager, current_user, login_user, logout_user

from core.errors import Unauthenticated
from core.schemas import Login, UserOut
from core.services import common, users

bp = Blueprint("auth", __name__, url_prefix="/auth")

PUBLIC_ENDPOINTS = {"auth.login", "auth.login_form", "healthz", "static"}
BROWSER_PAGES = ("/api/v1/docs", "/graphql")

LOGIN_FORM = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Trellis · Sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto}label,input,button{display:block;width:100%;margin:.4rem 0}
input{padding:.4rem}button{padding:.5rem}</style><h1>Trellis</h1>
{% if error %}<p role="alert" style="color:#b00">{{ error }}</p>{% endif %}
<form method="post" action="{{ url_for('auth.login', next=next) }}">
<label>Email <input name="email" type="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button>Sign in</button></form></html>"""


def init_app(app: Flask) -> None:
    manager = LoginManager()
    manager.init_app(app)

    @manager.user_loader
    def load_from_session(user_id: str):
        if request.headers.get("Authorization"):
            return None  # the header decides; see load_from_header
        return users.by_id(user_id)

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
        if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS \
                or request.endpoint in app.config.get("TRELLIS_PUBLIC_ENDPOINTS", ()):
            return None
        if current_user.is_authenticated:
            return None
        wants_html = request.accept_mimetypes.best == "text/html" and request.method == "GET"
        if wants_html and request.path.startswith(BROWSER_PAGES):
            return redirect(url_for("auth.login_form", next=request.full_path))
        if request.path == "/graphql" and request.method == "POST":
            return None  # GraphQL answers with an UNAUTHENTICATED error in its own format
        raise Unauthenticated()

    app.register_blueprint(bp)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/api/v1/docs"


@bp.get("/login")
def login_form():
    return render_template_string(LOGIN_FORM, error=None, next=request.args.get("next", ""))


@bp.post("/login")
def login():
    """Sign in with email and password (JSON, or the form). Sets the session cookie."""
    if request.is_json:
        data = common.validate(Login, request.get_json())
        user = users.authenticate(data["email"], data["password"])
        login_user(user)
        return UserOut().dump(user), 200
    try:
        user = users.authenticate(request.form.get("email", ""), request.form.get("password", ""))
    except Unauthenticated as exc:
        return render_template_string(LOGIN_FORM, error=exc.message, next=request.args.get("next", "")), 401
    login_user(user)
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
def logout():
    logout_user()
    return "", 204


@bp.get("/me")
def me():
    return UserOut().dump(current_user), 200
