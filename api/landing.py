"""The page at ``/``: where a person who opens the address ``trellis demo`` prints learns where to go.

A browser gets a small HTML page: what Trellis is, whether you are signed in, links to the sign-in form,
the REST docs, GraphiQL and the labels, the enabled plugins and the database's health. An API client
(``Accept: application/json``) gets an index of links instead. The page is public (it says whether you
are signed in) and shows nothing a stranger should not see: no records, only what is installed.

It loads nothing from elsewhere and runs no script; its one ``<style>`` element is allowed by the page
policy of :mod:`api.headers`. The worker's health is not shown: ``trellis worker`` leaves no trace
the web process could read (no heartbeat), so the page could only guess.
"""
from __future__ import annotations

from flask import Flask, jsonify, render_template_string, request, url_for
from flask_login import current_user

from core.runtime import Runtime

ABOUT = ("Trellis is an open-source CRM framework: customers, contacts, interactions, lifecycle and levels, "
         "served over REST and GraphQL. Plugins add whole domains (those enabled here are listed below) "
         "through the same contract a third-party package uses.")

PAGE = """<!doctype html><html lang="en"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Trellis</title>
<style>
body{font-family:system-ui,sans-serif;line-height:1.5;color:#222;max-width:44rem;margin:3rem auto;padding:0 1rem}
h1{margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}
a{color:#0b5cad}ul{padding-left:1.2rem}code{background:#f3f3f3;padding:0 .2rem}
.ok{color:#17692b}.bad{color:#b00020}.muted{color:#666}
table{border-collapse:collapse;width:100%}td,th{text-align:left;vertical-align:top;padding:.3rem .5rem .3rem 0}
</style>
<h1>Trellis</h1>
<p>{{ about }}</p>
<p>{% if user %}Signed in as <strong>{{ user.email }}</strong> ({{ user.role }}).
{% else %}You are not signed in. <a href="{{ links.sign_in }}">Sign in</a> to use the API from this browser.{% endif %}</p>
<h2>Where to go</h2>
<ul>
<li><a href="{{ links.sign_in }}">Sign in</a> — a session for this browser (programs use
<code>Authorization: Bearer</code> tokens from <code>trellis tokens create EMAIL</code>).</li>
<li><a href="{{ links.docs }}">REST API docs</a> (Swagger UI) — and the
<a href="{{ links.openapi }}">OpenAPI document</a>.</li>
<li><a href="{{ links.graphql }}">GraphiQL</a> — the GraphQL API at <code>/graphql</code>.</li>
<li><a href="{{ links.labels }}">Labels</a> — every vocabulary (stages, levels, kinds …) in English and zh-CN.</li>
<li><a href="{{ links.healthz }}">Health check</a> — <code>/healthz</code> (liveness) and
<a href="{{ links.readyz }}"><code>/readyz</code></a> (migrations at head too), for load balancers.</li>
</ul>
<h2>Plugins enabled</h2>
{% if plugins %}<table><tr><th>Name</th><th>Version</th><th>What it adds</th></tr>
{% for p in plugins %}<tr><td><code>{{ p.name }}</code></td><td>{{ p.version }}</td><td>{{ p.adds }}</td></tr>
{% endfor %}</table>{% else %}<p class="muted">None: only the core (<code>TRELLIS_PLUGINS</code>).</p>{% endif %}
<h2>Health</h2>
<p>Database: {% if database %}<span class="ok">reachable</span>{% else %}<span class="bad">unreachable</span>{% endif %}.</p>
<p class="muted">The worker (<code>trellis worker</code>) is not shown: it leaves no heartbeat this page could read.</p>
</html>"""


def _adds(description: str) -> str:
    """The first paragraph of a plugin's docstring, on one line."""
    return " ".join((description or "").strip().split("\n\n")[0].split())


def init_app(app: Flask, runtime: Runtime) -> None:
    @app.get("/")
    def landing():
        links = {"openapi": url_for("api-docs.openapi_json"), "docs": "/api/v1/docs", "graphql": "/graphql",
                 "auth": url_for("auth.login"), "healthz": url_for("healthz"),
                 "readyz": url_for("readyz"), "labels": "/api/v1/labels"}
        signed_in = bool(current_user.is_authenticated)
        if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
            return jsonify(name="Trellis", signed_in=signed_in, links=links)
        plugins = [{"name": p.name, "version": p.version, "adds": _adds(getattr(p.obj, "__doc__", None) or p.description)}
                   for p in runtime.plugins.enabled]
        return render_template_string(PAGE, about=ABOUT, user=current_user if signed_in else None,
                                      links={**links, "sign_in": url_for("auth.login_form", next="/")},
                                      plugins=plugins, database=runtime.database.ping())
