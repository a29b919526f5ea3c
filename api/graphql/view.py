"""Placeholder until the GraphQL composition lands (being written in this same change)."""


def init_app(app, runtime):
    return None
