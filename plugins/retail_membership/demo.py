"""Demo data (placeholder)."""


def demo(admin, rng):
    return None
