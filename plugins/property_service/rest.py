"""Property service (物业服务): flask-smorest blueprints, returned by the ``trellis_rest_blueprints`` hook.

Empty until issue #5 builds the plugin; the file is here so every plugin has the same shape."""
