"""Trellis's public face for plugin authors: :mod:`trellis.plugin` is everything a plugin may import
(docs/plugins.md); the packages ``core``, ``api`` and ``plugins`` beside it are the framework's inside."""
