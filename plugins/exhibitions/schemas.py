"""Exhibitions (会展): Marshmallow schemas: the plugin's input validation and REST output.

Empty until issue #6 builds the plugin; the file is here so every plugin has the same shape."""
