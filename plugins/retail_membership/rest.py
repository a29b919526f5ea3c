"""Retail membership (零售会员): flask-smorest blueprints, returned by the ``trellis_rest_blueprints`` hook.

Empty until issue #7 builds the plugin; the file is here so every plugin has the same shape."""
