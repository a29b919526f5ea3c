"""Exhibitions (会展): SQLAlchemy models of the plugin; every table is prefixed with the plugin name.

Empty until issue #6 builds the plugin; the file is here so every plugin has the same shape."""
