"""Exhibitions (会展): State machines of the plugin's records, declared through the core workflow engine.

Empty until issue #6 builds the plugin; the file is here so every plugin has the same shape."""
