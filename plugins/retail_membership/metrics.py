"""Retail membership (零售会员): Metrics of the plugin, returned by the ``trellis_metrics`` hook.

Empty until issue #7 builds the plugin; the file is here so every plugin has the same shape."""
