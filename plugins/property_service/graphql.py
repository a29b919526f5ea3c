"""Property service (物业服务): GraphQL types and fields, contributed through the ``trellis_graphql_*`` hooks.

Empty until issue #5 builds the plugin; the file is here so every plugin has the same shape."""
