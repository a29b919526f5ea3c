"""The per-request loaders: one batch for all primed siblings, answers from the cache after that."""
from __future__ import annotations

from types import SimpleNamespace

from api.graphql.loaders import Loaders


def recording(calls, value=lambda k: k * 10):
    def batch(keys):
        calls.append(list(keys))
        return {k: value(k) for k in keys}

    return batch


def test_first_miss_loads_every_primed_sibling_in_one_batch():
    loaders, calls = Loaders(), []
    loaders.prime([SimpleNamespace(id=i) for i in (1, 2, 3)])
    assert [loaders.load("x", recording(calls), k) for k in (2, 1, 3)] == [20, 10, 30]
    assert calls == [[2, 1, 3]]


def test_unprimed_key_loads_alone_and_none_key_loads_nothing():
    loaders, calls = Loaders(), []
    assert loaders.load("x", recording(calls), 7) == 70
    assert loaders.load("x", recording(calls), None, default="none") == "none"
    assert calls == [[7]]


def test_missing_keys_get_the_default_and_are_not_asked_again():
    loaders, calls = Loaders(), []
    loaders.prime([1, 2])

    def only_one(keys):
        calls.append(keys)
        return {1: "one"}

    assert loaders.load("x", only_one, 2, default=[]) == []
    assert loaders.load("x", only_one, 1) == "one"
    assert calls == [[2, 1]]


def test_two_functions_under_one_name_keep_separate_caches():
    loaders, calls = Loaders(), []
    loaders.prime([1, 2])

    def plugin_a(keys):
        calls.append("a")
        return {k: f"a{k}" for k in keys}

    def plugin_b(keys):
        calls.append("b")
        return {k: f"b{k}" for k in keys}

    assert loaders.load("shared", plugin_a, 1) == "a1"
    assert loaders.load("shared", plugin_b, 1) == "b1"
    # a lambda made afresh on each call (as in a resolver) is the same function: it hits the cache
    assert [loaders.load("wrapped", lambda keys: plugin_a(keys), k) for k in (2, 1)] == ["a2", "a1"]
    assert calls == ["a", "b", "a"]


def test_a_key_in_two_sibling_groups_brings_both_groups():
    loaders, calls = Loaders(), []
    loaders.prime([1, 2])
    loaders.prime([2, 3])
    loaders.load("x", recording(calls), 2)
    assert calls == [[2, 1, 3]]
