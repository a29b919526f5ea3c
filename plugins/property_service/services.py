"""Property service (物业服务): The plugin's service functions: the only place its records are written; each takes the acting user first.

Empty until issue #5 builds the plugin; the file is here so every plugin has the same shape."""
