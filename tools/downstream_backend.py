"""pytest plugin: run SciPy's, scikit-learn's or array-api-extra's own array-API tests on one backend.

Loaded by ``tools/downstream_suites.py`` as ``-p downstream_backend --downstream-xp=NAME`` with NAME
``pjrt_array`` or ``array_api_strict``.  Each library parametrizes its tests over a list of
backends it knows; this plugin replaces that list with the one backend asked for, so both runs
collect the same tests under the same ids but for the backend part:

- SciPy: the parameters of its ``xp`` fixture (``scipy/conftest.py``);
- scikit-learn: ``yield_namespaces`` / ``yield_namespace_device_dtype_combinations`` (float64 and
  float32 on the default device for pjrt_array, as array-api-strict gets on its two devices);
- array-api-extra: the parameters of its ``library`` fixture (a stand-in for its ``Backend`` enum).

pjrt_array is unknown to the libraries' skip/xfail markers, so it takes array-api-strict's: a test
a library skips or expects to fail on array-api-strict is skipped or expected to fail on
pjrt_array, and nothing else is (the comparison asks for no failure array-api-strict lacks).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Iterator

import pytest

BACKENDS = ("pjrt_array", "array_api_strict")
STRICT = "array_api_strict"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--downstream-xp", choices=BACKENDS, default=None,
                     help="the one array API backend the library's tests run on")


def _backend(config: pytest.Config) -> str | None:
    return config.getoption("downstream_xp")


def pytest_configure(config: pytest.Config) -> None:
    # pytest-run-parallel's marker, which the libraries use and array-api-extra's strict markers
    # require to be known
    config.addinivalue_line("markers", "thread_unsafe: runs on one thread (pytest-run-parallel)")
    if _backend(config) == "pjrt_array":
        # pjrt_array is imported once, up front: its plugin load is not charged to the first test.
        importlib.import_module("pjrt_array")


def pytest_collectstart(collector: pytest.Collector) -> None:
    # Runs before each module is imported: the libraries' conftests are loaded by then, and the
    # test modules (which bind sklearn's generator functions at import) are not yet.
    name = _backend(collector.config)
    if name is None:
        return
    _patch_scipy(collector.session, name)
    _patch_sklearn(name)
    _patch_array_api_extra(collector.session, name)


def _fixturedefs(session: pytest.Session, argname: str, module_test: Any) -> Iterator[Any]:
    """The definitions of fixture ``argname`` whose function passes ``module_test(module, func)``.

    pytest has no public access to them: 9.x keeps them per node and per node id, older
    versions in one list per name.
    """
    manager = session._fixturemanager
    groups: list[Any] = []
    for attr in ("_arg2node2fixturedefs", "_arg2nodeid2fixturedefs"):
        groups.extend(getattr(manager, attr, {}).get(argname, {}).values())
    groups.append(getattr(manager, "_arg2fixturedefs", {}).get(argname, ()))
    for fixturedef in {id(d): d for group in groups for d in group}.values():
        if module_test(getattr(fixturedef.func, "__module__", "") or "", fixturedef.func):
            yield fixturedef


# --- SciPy ----------------------------------------------------------------------------------------

def _patch_scipy(session: pytest.Session, name: str) -> None:
    conftest = sys.modules.get("scipy.conftest")
    if conftest is None:
        return
    param = pytest.param(importlib.import_module(name), id=name, marks=pytest.mark.array_api_backends)
    for fixturedef in _fixturedefs(session, "xp", lambda mod, _: mod == "scipy.conftest"):
        fixturedef.params = (param,)
    if name != STRICT and not getattr(conftest, "_downstream_patched", False):
        reasons_of = conftest._backends_kwargs_from_request

        def with_strict_reasons(request: Any, skip_or_xfail: str) -> dict[str, str]:
            reasons = reasons_of(request, skip_or_xfail=skip_or_xfail)
            if STRICT in reasons:
                reasons[name] = reasons[STRICT]
            return reasons

        conftest._backends_kwargs_from_request = with_strict_reasons
        conftest._downstream_patched = True


# --- scikit-learn ---------------------------------------------------------------------------------

def _patch_sklearn(name: str) -> None:
    module = sys.modules.get("sklearn.utils._array_api")
    if module is None or getattr(module, "_downstream_patched", False):
        return

    def yield_namespaces(include_numpy_namespaces: bool = True) -> Iterator[str]:
        yield name

    def yield_namespace_device_dtype_combinations(include_numpy_namespaces: bool = True
                                                  ) -> Iterator[tuple[str, Any, str]]:
        if name == STRICT:
            yield name, "CPU_DEVICE", "float64"
            yield name, "device1", "float32"
        else:
            yield name, None, "float64"
            yield name, None, "float32"

    module.yield_namespaces = yield_namespaces
    module.yield_namespace_device_dtype_combinations = yield_namespace_device_dtype_combinations
    module._downstream_patched = True


# --- array-api-extra ------------------------------------------------------------------------------

class PjrtBackend:
    """Stands in for a member of array-api-extra's ``Backend`` enum (which cannot grow members)."""

    name = "PJRT_ARRAY"
    value = "pjrt_array"
    modname = "pjrt_array"

    def like(self, *others: Any) -> bool:
        return any(getattr(other, "modname", None) == self.modname for other in others)

    def __repr__(self) -> str:
        return "Backend.PJRT_ARRAY"


class _AsStrict:
    """A fixture request whose ``param`` is array-api-strict's: its markers then apply."""

    def __init__(self, request: Any, strict: Any) -> None:
        self._request = request
        self.param = strict

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._request, attr)


def _patch_array_api_extra(session: pytest.Session, name: str) -> None:
    defs = list(_fixturedefs(session, "library", lambda _, func: "Backend" in getattr(func, "__globals__", {})))
    for fixturedef in defs:
        if getattr(fixturedef, "_downstream_patched", False):
            continue
        backend = fixturedef.func.__globals__["Backend"]
        strict = backend.ARRAY_API_STRICT
        if name == STRICT:
            fixturedef.params = (strict.pytest_param(),)
        else:
            original = fixturedef.func
            stand_in = PjrtBackend()

            def library(request: Any, _original: Any = original, _strict: Any = strict) -> PjrtBackend:
                _original(_AsStrict(request, _strict))  # skips or xfails as on array-api-strict
                return stand_in

            fixturedef.func = library
            fixturedef.params = (pytest.param(stand_in, id=name),)
        fixturedef._downstream_patched = True
