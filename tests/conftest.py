"""The project's own tests use the Trellis test kit (api/testing, loaded as the pytest plugin
``trellis`` through its entry point) like any plugin's tests; only the tests' own sample plugin is
added, so the test database gets its tables too."""
from __future__ import annotations

import pytest

from tests import sample_plugin


@pytest.fixture(scope="session")
def trellis_migrated_plugins() -> list:
    return [sample_plugin]
