"""Retail membership (零售会员): GraphQL types and fields, contributed through the ``trellis_graphql_*`` hooks.

Empty until issue #7 builds the plugin; the file is here so every plugin has the same shape."""
