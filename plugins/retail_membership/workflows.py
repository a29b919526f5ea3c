"""Retail membership (零售会员): State machines of the plugin's records, declared through the core workflow engine.

Empty until issue #7 builds the plugin; the file is here so every plugin has the same shape."""
