"""Property service (物业服务): SQLAlchemy models of the plugin; every table is prefixed with the plugin name.

Empty until issue #5 builds the plugin; the file is here so every plugin has the same shape."""
