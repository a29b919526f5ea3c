"""Property service (物业服务): State machines of the plugin's records, declared through the core workflow engine.

Empty until issue #5 builds the plugin; the file is here so every plugin has the same shape."""
