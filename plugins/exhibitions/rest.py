"""Exhibitions (会展): flask-smorest blueprints, returned by the ``trellis_rest_blueprints`` hook.

Empty until issue #6 builds the plugin; the file is here so every plugin has the same shape."""
