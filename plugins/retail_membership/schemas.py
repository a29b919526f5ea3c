"""Retail membership (零售会员): Marshmallow schemas: the plugin's input validation and REST output.

Empty until issue #7 builds the plugin; the file is here so every plugin has the same shape."""
