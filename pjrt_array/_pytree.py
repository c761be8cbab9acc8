"""Flattening nested tuples, lists, dicts and namedtuples into leaves and back.

A tree definition is a hashable nested tuple, so it can be part of a cache key.
``None`` is structure, not a leaf.
"""

from __future__ import annotations

from typing import Any, Iterator

__all__ = ["flatten", "unflatten", "broadcast_prefix", "LEAF"]

LEAF = "*"
_NONE = "None"


def _dict_keys(tree: dict) -> tuple:
    try:
        return tuple(sorted(tree))
    except TypeError:  # keys of mixed types: insertion order
        return tuple(tree)


def flatten(tree: Any, leaves: list[Any]) -> Any:
    """Append the leaves of ``tree`` to ``leaves``; return its tree definition."""
    t = type(tree)
    if t is tuple or t is list:
        return (t, tuple([flatten(c, leaves) for c in tree]))
    if t is dict:
        keys = _dict_keys(tree)
        return (dict, keys, tuple([flatten(tree[k], leaves) for k in keys]))
    if tree is None:
        return _NONE
    if isinstance(tree, tuple) and hasattr(t, "_fields"):  # a namedtuple
        return (t, tuple([flatten(c, leaves) for c in tree]))
    leaves.append(tree)
    return LEAF


def _build(treedef: Any, leaves: Iterator[Any]) -> Any:
    if treedef is LEAF:
        return next(leaves)
    if treedef is _NONE:
        return None
    t = treedef[0]
    if t is dict:
        return {k: _build(c, leaves) for k, c in zip(treedef[1], treedef[2])}
    children = [_build(c, leaves) for c in treedef[1]]
    if t is tuple or t is list:
        return t(children)
    return t(*children)


def unflatten(treedef: Any, leaves: Any) -> Any:
    """The tree of ``treedef`` with ``leaves`` in order."""
    return _build(treedef, iter(leaves))


def broadcast_prefix(prefix: Any, tree: Any, argname: str) -> list[Any]:
    """One entry per leaf of ``tree``: ``prefix`` is ``tree`` cut short (tuples, lists and dicts
    of the same lengths and keys) whose every other value applies to all the leaves below it
    (jax's in_shardings/out_shardings convention).  ValueError naming ``argname`` otherwise."""
    out: list[Any] = []

    def walk(p: Any, t: Any) -> None:
        if isinstance(p, dict):
            if not isinstance(t, dict) or set(p) != set(t):
                raise ValueError(f"{argname}: {p!r} does not match the structure {t!r}")
            for k in _dict_keys(t):
                walk(p[k], t[k])
        elif isinstance(p, (tuple, list)):
            if not isinstance(t, (tuple, list)) or len(p) != len(t):
                raise ValueError(f"{argname}: a {type(p).__name__} of {len(p)} entries does not match the "
                                 f"structure {t!r}")
            for a, b in zip(p, t):
                walk(a, b)
        else:
            leaves: list[Any] = []
            flatten(t, leaves)
            out.extend([p] * len(leaves))
    walk(prefix, tree)
    return out
