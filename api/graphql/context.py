"""The context every resolver gets as ``info.context``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.graphql.loaders import Loaders
from core.runtime import Runtime


@dataclass
class Context:
    #: the acting user (``flask_login.current_user``; anonymous when nobody signed in)
    user: Any
    #: the app's runtime: settings, plugins, labels, metrics
    runtime: Runtime
    #: this request's batch loaders (see :mod:`api.graphql.loaders`)
    loaders: Loaders = field(default_factory=Loaders)
    #: id(record) → GraphQL type name, for what node()/nodes() return (see :mod:`api.graphql.nodes`)
    node_types: dict = field(default_factory=dict)
    request: Any = None
    response: Any = None
