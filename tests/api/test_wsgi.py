"""The production entry point (``gunicorn 'api.wsgi:app'``)."""
from __future__ import annotations


def test_the_wsgi_entry_point_builds_the_app_from_the_environment_and_freezes_its_objects(monkeypatch):
    import gc
    import importlib
    import sys

    monkeypatch.setenv("TRELLIS_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("TRELLIS_PLUGINS", "exhibitions")
    sys.modules.pop("api.wsgi", None)
    try:
        wsgi = importlib.import_module("api.wsgi")
        assert gc.get_freeze_count() > 10_000
        assert wsgi.app.extensions["trellis"].plugins.enabled_names == ["core", "exhibitions"]
        assert wsgi.app.test_client().get("/api/v1/customers").status_code == 401
    finally:
        gc.unfreeze()
        sys.modules.pop("api.wsgi", None)
