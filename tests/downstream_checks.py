"""Real SciPy, scikit-learn and array-api-extra functions on pjrt_array arrays against numpy.

Run as a script (by ``test_downstream.py``) because SciPy reads
``SCIPY_ARRAY_API`` once, when it is first imported.  Prints one JSON line per
check: ``[name, "pass"]``, ``[name, "skip", reason]`` or ``[name, "fail", message]``.
Each check computes the same thing with ``m = numpy`` and ``m = pjrt_array``
(inputs made fresh for each, as some functions write into numpy inputs) and
compares values and dtypes.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any, Callable

os.environ["SCIPY_ARRAY_API"] = "1"

import numpy as np  # noqa: E402

import pjrt_array as xp  # noqa: E402


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(20, 4)), rng.random(10) + 0.1, rng.integers(0, 3, 20)


def _mod(name: str) -> Any:
    return importlib.import_module(name)


# name -> (module that must import, check(m) computing with numpy or pjrt_array, relative tolerance)
CHECKS: dict[str, tuple[str, Callable[[Any], Any], float]] = {
    # numpy ufuncs on Arrays (through __array__)
    "scipy.special.erf": ("scipy.special", lambda m: _mod("scipy.special").erf(m.asarray(_data()[1])), 1e-12),
    # mixed integer/float32 promotion gives float64, as numpy (SciPy's generic code computes log in float32)
    "scipy.special.xlogy int64 with float32": (
        "scipy.special", lambda m: _mod("scipy.special").xlogy(m.asarray([1, 2, 3]), m.asarray(np.float32([1, 2, 3]))),
        1e-6),
    "scipy.special.rel_entr": ("scipy.special", lambda m: _mod("scipy.special").rel_entr(
        m.asarray(_data()[1]), m.asarray(_data(1)[1])), 1e-12),
    "scipy.special.logsumexp": ("scipy.special", lambda m: _mod("scipy.special").logsumexp(
        m.asarray(_data()[0]), axis=0), 1e-12),
    # filter design: complex integer powers exact (odd coefficients exactly 0)
    "scipy.signal.cheby2 ba": ("scipy.signal", lambda m: _mod("scipy.signal").cheby2(
        4, 40, m.asarray([0.2, 0.5]), "bandpass"), 1e-9),
    "scipy.signal.ellip ba": ("scipy.signal", lambda m: _mod("scipy.signal").ellip(4, 1, 40, m.asarray(0.3)), 1e-9),
    # lstsq through the pure StableHLO linear algebra (Vandermonde, condition ~1e6 before scaling)
    "scipy.signal.savgol_coeffs": ("scipy.signal", lambda m: _mod("scipy.signal").savgol_coeffs(
        7, 3, **({"xp": m} if m is xp else {})), 1e-9),
    "scipy.signal.detrend": ("scipy.signal", lambda m: _mod("scipy.signal").detrend(m.asarray(_data()[0]), axis=0),
                             1e-10),
    "scipy.stats.zscore": ("scipy.stats", lambda m: _mod("scipy.stats").zscore(m.asarray(_data()[0]), axis=0), 1e-12),
    "scipy.stats.skew": ("scipy.stats", lambda m: _mod("scipy.stats").skew(m.asarray(_data()[0]), axis=0), 1e-10),
    "scipy.fft.rfft": ("scipy.fft", lambda m: _mod("scipy.fft").rfft(m.asarray(_data()[1])), 1e-12),
    "scipy.cluster.vq.whiten": ("scipy.cluster.vq", lambda m: _mod("scipy.cluster.vq").whiten(
        m.asarray(_data()[0])), 1e-12),
    "sklearn StandardScaler": ("sklearn.preprocessing", lambda m: _mod("sklearn.preprocessing").StandardScaler()
                               .fit_transform(m.asarray(_data()[0])), 1e-12),
    "sklearn MinMaxScaler": ("sklearn.preprocessing", lambda m: _mod("sklearn.preprocessing").MinMaxScaler()
                             .fit_transform(m.asarray(_data()[0])), 1e-12),
    "sklearn euclidean_distances": ("sklearn.metrics", lambda m: _mod("sklearn.metrics").pairwise
                                    .euclidean_distances(m.asarray(_data()[0])), 1e-10),
    "sklearn PCA explained variance": ("sklearn.decomposition", lambda m: _mod("sklearn.decomposition").PCA(
        n_components=2, svd_solver="full").fit(m.asarray(_data()[0])).explained_variance_, 1e-10),
    "sklearn r2_score": ("sklearn.metrics", lambda m: _mod("sklearn.metrics").r2_score(
        m.asarray(_data()[1]), m.asarray(_data(1)[1])), 1e-12),
    "array_api_extra.cov": ("array_api_extra", lambda m: _mod("array_api_extra").cov(m.asarray(_data()[0].T)), 1e-12),
    "array_api_extra.kron": ("array_api_extra", lambda m: _mod("array_api_extra").kron(
        m.asarray(_data()[0][:2, :2]), m.asarray(_data()[0][:3, :2])), 1e-12),
    "array_api_extra.pad": ("array_api_extra", lambda m: _mod("array_api_extra").pad(m.asarray(_data()[0]), 2), 0),
    "array_api_extra.sinc": ("array_api_extra", lambda m: _mod("array_api_extra").sinc(m.asarray(_data()[1])), 1e-12),
    "array_api_extra.setdiff1d": ("array_api_extra", lambda m: _mod("array_api_extra").setdiff1d(
        m.asarray(_data()[2]), m.asarray([1])), 0),
    # at(...).set with a float into an integer array: cast as numpy
    "array_api_extra.at set/add": ("array_api_extra", lambda m: _mod("array_api_extra").at(
        _mod("array_api_extra").at(m.asarray(_data()[2]), 2).add(3, copy=True), slice(0, 3)).set(1.5, copy=True),
        0),
}


def _compare(got: Any, expected: Any, rtol: float) -> None:
    got = got if isinstance(got, tuple) else (got,)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(got) == len(expected), f"{len(got)} results, numpy gives {len(expected)}"
    for g, e in zip(got, expected):
        g, e = np.asarray(g), np.asarray(e)
        assert g.dtype == e.dtype, f"dtype {g.dtype}, numpy gives {e.dtype}"
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * float(np.max(np.abs(e), initial=0.0)))


def main(names: list[str]) -> None:
    for name in names or list(CHECKS):
        module, check, rtol = CHECKS[name]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            print(json.dumps([name, "skip", f"{module} is not installed ({exc})"]), flush=True)
            continue
        if module.startswith("sklearn"):
            _mod("sklearn").set_config(array_api_dispatch=True)
        try:
            _compare(check(xp), check(np), rtol)
        except Exception as exc:  # reported to the test, which fails with it
            print(json.dumps([name, "fail", f"{type(exc).__name__}: {exc}"[:2000]]), flush=True)
        else:
            print(json.dumps([name, "pass"]), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
