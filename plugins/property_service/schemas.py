"""Property service (物业服务): Marshmallow schemas: the plugin's input validation and REST output.

Empty until issue #5 builds the plugin; the file is here so every plugin has the same shape."""
