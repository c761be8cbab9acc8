"""What the array layer asks of one plugin: compile options, tuning, and the identity of its build.

The binding (``_pjrt``) compiles whatever it is given; the choices live here,
one :class:`CompilePolicy` per plugin, consulted by the dispatcher on a cache
miss (never on a hit):

- the compile options of a program: one device (a portable executable where the
  platform runs one on any of its devices, so one compile serves them all), and
  XLA debug options passed as ``env_option_overrides`` (measured on the XLA CPU plugins, see
  docs/benchmarks.md: the fusion emitters double compile time without making
  these programs faster, and for small inputs LLVM's optimizations cost more
  than they ever save);
- the options the plugin refused: a plugin that does not know an option says
  so at compile time; the policy drops it, retries, and never sends it again;
- the plugin build's identity, which keys both the program fingerprint and the
  disk cache's folder: an executable is only ever loaded by the build that made it.

:func:`tune_process` is the one process-wide setting the array layer opts
into (glibc malloc arenas, see ``_malloc``); the binding never changes the process.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
import threading
import weakref
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ._malloc import tune_malloc
from ._pjrt import CompileOptions, LoadedExecutable, PjrtError

if TYPE_CHECKING:
    from ._pjrt import Client, Plugin

__all__ = ["CompilePolicy", "policy_for", "tune_process", "plugin_build_identity"]

Aval = tuple[tuple[int, ...], np.dtype]

# XLA:CPU's debug options; other platforms get none of them.
Overrides = dict[str, "bool | int | float | str"]
_CPU_OPTIONS: Overrides = {"xla_cpu_use_fusion_emitters": False}
_SMALL_PROGRAM_OPTIONS: Overrides = {"xla_backend_optimization_level": 0}
# Whole programs (jit, large fused graphs): 512-bit vectors where the host has them (LLVM keeps
# to the widest it has elsewhere).  XLA's own 256 leaves the AVX-512 units half used: the Monte
# Carlo payoff runs 6.2 -> 4.5 ms, a row softmax 0.226 -> 0.19 ms (docs/benchmarks.md).
_WHOLE_PROGRAM_OPTIONS: Overrides = {"xla_cpu_prefer_vector_width": 512}
_SMALL_ELEMENTS = 1 << 16  # a program whose largest input has at most this many elements is "small"
_TINY_ELEMENTS = 64  # a fused graph whose arrays all have at most this many elements is "tiny"
# A fused graph first compiled with a small op's options is compiled again as a whole program once
# its fused runs times its largest array's elements reach this (``graph_recompile_runs``): in
# scikit-learn's logistic-regression tests 60 graphs over 150x4 ran 55 times each on average, never
# paying back full optimization's compiles (23.6 s with fusion against 17.8 s without; 18.8 s with
# the cheap ones), while a graph that keeps running pays back the sooner the larger its arrays
# (cheap code's extra time grows with them: a logistic-regression segment over 1000x10 runs in 360
# us instead of 70): 109 runs over 600 elements, 3 over 20,000.
_HOT_ELEMENT_RUNS = 1 << 16
# Platforms whose plugins run a portable executable (compiled without a device assignment) on the
# device named at execute (checked on both XLA CPU plugins: the same bits, the same 4-5 us per
# call).  scipy.special's tests place the same ops on each of the CPU plugin's four devices: 42 of
# its 238 per-op compiles were a program already compiled for another device.
_PORTABLE_PLATFORMS = frozenset({"cpu"})
_NO_SUCH_OPTION = re.compile(r"No such compile option: '([\w.]+)'")


def _distribution(library: Path) -> tuple[str, str] | None:
    """``(name, version)`` of the installed distribution whose package folder holds ``library``."""
    for folder in (library.parent, library.parent.parent):
        try:
            dist = importlib.metadata.distribution(folder.name)
        except (importlib.metadata.PackageNotFoundError, ValueError):
            continue
        return str(dist.metadata["Name"]), str(dist.version)
    return None


def plugin_build_identity(client: "Client") -> dict[str, Any]:
    """What tells one build of a plugin from another: what it reports (platform, versions,
    attributes), its library file (path, size, modification time) and its distribution.

    The XLA CPU plugins report their platform version as just ``"cpu"``, so
    the file is what tells a wheel upgrade apart.
    """
    plugin: Plugin = client.plugin
    identity: dict[str, Any] = {"platform": client.platform_name, "platform_version": client.platform_version,
                                "api_version": client.api.version, "path": plugin.path}
    try:
        identity["attributes"] = {k: str(v) for k, v in sorted(plugin.attributes().items())}
    except PjrtError:
        pass  # a plugin without PJRT_Plugin_Attributes
    try:
        st = os.stat(plugin.path)
        identity["size"], identity["mtime_ns"] = st.st_size, st.st_mtime_ns
    except OSError:
        pass  # not a file (a plugin made in memory): what it reports is all we have
    dist = _distribution(Path(plugin.path))
    if dist is not None:
        identity["distribution"] = "==".join(dist)
    return identity


class CompilePolicy:
    """The compile choices for one plugin; thread-safe."""

    def __init__(self, client: "Client") -> None:
        self.platform = client.platform_name
        #: Options sent with every program, and with small ones.
        self.options_always: Overrides = dict(_CPU_OPTIONS) if self.platform == "cpu" else {}
        self.options_small: Overrides = dict(_SMALL_PROGRAM_OPTIONS) if self.platform == "cpu" else {}
        #: Options sent with whole programs (``program_options``).
        self.options_program: Overrides = dict(_WHOLE_PROGRAM_OPTIONS) if self.platform == "cpu" else {}
        #: One-device programs are portable (``_PORTABLE_PLATFORMS``): run on the device passed at
        #: execute, and compiled once for all of them.
        self.portable = self.platform in _PORTABLE_PLATFORMS
        self.small_elements = _SMALL_ELEMENTS
        self.tiny_elements = _TINY_ELEMENTS
        #: Option names the plugin refused; never sent again.
        self.refused: set[str] = set()
        self._lock = threading.Lock()
        identity = plugin_build_identity(client)
        #: A stable text of the build's identity (keys fingerprints and the disk cache).
        self.build_key = json.dumps(identity, sort_keys=True)
        #: A short readable label of the build (the disk cache folder's prefix).
        self.label = f"{identity['platform']}-{identity['api_version']}"

    def options(self, device_id: int, avals: Sequence[Aval]) -> CompileOptions:
        """The compile options of a one-device program with inputs ``avals``."""
        overrides = dict(self.options_always)
        if _largest(avals) <= self.small_elements:
            overrides.update(self.options_small)
        return self._one_device(device_id, overrides)

    def program_options(self, device_id: int, *, index_reduction: bool = False,
                        narrow_dot: bool = False) -> CompileOptions:
        """The compile options of a whole traced program (jit): the compiler's defaults but for
        the vector width (``options_program``).  Unlike single ops, whole programs gain from the
        fusion emitters and full optimization (a Monte Carlo reduction over 4M floats runs 2.6x
        faster, a row softmax 1.6x; docs/jit.md) -- except a program with an
        argmin/argmax-style (value, index) reduction (``index_reduction``): XLA:CPU's fusion
        emitters run one fused with its producer 3-4x slower (a k-means loop 0.91 -> 0.19 ms
        without them), and compile longer.  A program with a dot whose contracting extent fills
        256-bit vectors but not 512-bit ones (``narrow_dot``: 100 float64) keeps XLA's 256: its
        dot kernel runs 512-bit tiles and the leftover 4 elements of every row one by one (a
        conjugate-gradient loop on a 100x100 matrix 10% slower, on 96x96 or 104x104 not)."""
        overrides = dict(self.options_program)
        if index_reduction:
            overrides.update(self.options_always)
        if narrow_dot and "xla_cpu_prefer_vector_width" in overrides:
            overrides["xla_cpu_prefer_vector_width"] = 256
        return self._one_device(device_id, overrides)

    def _one_device(self, device_id: int, overrides: Overrides) -> CompileOptions:
        """Options of a program run on one device: portable where the platform allows (no device
        in them, so every device shares the program and its fingerprint), else assigned to
        ``device_id``.  Either way the caller names the device at execute."""
        if self.portable:
            return CompileOptions(num_replicas=1, num_partitions=1, compile_portable_executable=True,
                                  env_option_overrides=overrides)
        return CompileOptions(num_replicas=1, num_partitions=1, device_assignment=((device_id,),),
                              env_option_overrides=overrides)

    def graph_options(self, device_id: int, avals: Sequence[Aval], *, index_reduction: bool = False,
                      narrow_dot: bool = False, hot: bool = False) -> CompileOptions:
        """The compile options of a fused graph of eager ops (``_fusion``) with parameter and
        result types ``avals``.  A graph over large arrays gets a whole program's (``jit``'s).  A
        new graph over small ones gets a small op's: the fusion emitters off at level 0, 3-5x
        cheaper to compile, since most such graphs run only tens of times (code that repeats a
        few times, then moves on); a ``hot`` one, proven to run on, a whole program's, which run
        up to 5x faster.  A tiny graph (every array at most ``tiny_elements``, as in a loop over a
        few scalars) keeps a small op's: its run is the execute's overhead whatever the code.
        Measured on the XLA CPU plugin (compile / run, docs/fusion.md): a logistic-regression
        segment of 135 ops over 1000x10, 129 ms / 360 us against 466 ms / 70 us; graphs of 20-108
        ops over 150x4 from scikit-learn's tests, 20-77 ms against 47-381 ms, both 10-60 us; a
        300-op RK4 segment over 3 elements 35-70 ms against 80-190 ms, both 20-40 us.  Without the
        emitters at full optimization (the old choice), LLVM took 1.25-1.65 s on a 330-op graph
        over 30,000 elements (0.45-0.5 s with them), and the code ran up to 2x slower."""
        largest = _largest(avals)
        if largest <= self.tiny_elements or (largest <= self.small_elements and not hot):
            return self.options(device_id, avals)
        return self.program_options(device_id, index_reduction=index_reduction, narrow_dot=narrow_dot)

    def graph_recompile_runs(self, avals: Sequence[Aval]) -> int:
        """How many fused runs a new graph over ``avals`` makes with its first (cheap) options
        before it is compiled again as a whole program (``_HOT_ELEMENT_RUNS``); 0 where its first
        options are its last: a tiny graph's, or a large one's."""
        largest = _largest(avals)
        if largest <= self.tiny_elements or largest > self.small_elements:
            return 0
        return max(1, _HOT_ELEMENT_RUNS // largest)

    def compile(self, client: "Client", text: str, options: CompileOptions) -> LoadedExecutable:
        """Compile, leaving out the options this plugin refused (learned here once, then remembered)."""
        while True:
            with self._lock:
                overrides = {k: v for k, v in dict(options.env_option_overrides).items() if k not in self.refused}
            try:
                return client.compile(text, replace(options, env_option_overrides=overrides))
            except PjrtError as exc:
                match = _NO_SUCH_OPTION.search(exc.message)
                if match is None or match.group(1) not in overrides:
                    raise
                with self._lock:
                    self.refused.add(match.group(1))


def _largest(avals: Sequence[Aval]) -> int:
    """The element count of the largest of ``avals`` (0 for none)."""
    return max((math.prod(shape) for shape, _ in avals), default=0)


_policies: "weakref.WeakKeyDictionary[Plugin, CompilePolicy]" = weakref.WeakKeyDictionary()
_policies_lock = threading.Lock()


def policy_for(client: "Client") -> CompilePolicy:
    """The policy of ``client``'s plugin (made on first use)."""
    policy = _policies.get(client.plugin)
    if policy is None:
        with _policies_lock:
            policy = _policies.get(client.plugin)
            if policy is None:
                policy = _policies[client.plugin] = CompilePolicy(client)
    return policy


def tune_process() -> None:
    """The process-wide tuning the array layer opts into before it creates a client (once)."""
    tune_malloc()
