"""Property service (物业服务): Metrics of the plugin, returned by the ``trellis_metrics`` hook.

Empty until issue #5 builds the plugin; the file is here so every plugin has the same shape."""
