"""Exhibitions (会展): The plugin's service functions: the only place its records are written; each takes the acting user first.

Empty until issue #6 builds the plugin; the file is here so every plugin has the same shape."""
