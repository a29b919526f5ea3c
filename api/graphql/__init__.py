"""GraphQL: one strawberry schema composed per app from the core and every enabled plugin."""
