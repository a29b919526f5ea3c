"""Exhibitions (会展): GraphQL types and fields, contributed through the ``trellis_graphql_*`` hooks.

Empty until issue #6 builds the plugin; the file is here so every plugin has the same shape."""
