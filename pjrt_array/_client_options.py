"""Create options of the namespace's PJRT clients: checked values, environment variables.

A plugin reads its options once, in ``PJRT_Client_Create``, so they are set
before the first use of its devices (:func:`pjrt_array.set_client_options`)
or through the environment.  The names and types are those XLA's plugins
accept; values are checked here, naming the option, so a bad one raises a
Python exception instead of reaching the plugin.  Options this module does not
know go to the plugin unchanged (it rejects unknown names itself).
"""

from __future__ import annotations

import math
import operator
import os
from typing import Any, Callable, Mapping

from ._pjrt.named_values import NamedValue

__all__ = ["check_options", "environment_options", "GPU_ALLOCATORS", "ENV_OPTIONS"]

#: The allocators of XLA's GPU plugin: "default" (BFC), "platform" (cudaMalloc per buffer,
#: no pool), "bfc" (best-fit with coalescing), "cuda_async" (cudaMallocAsync).
GPU_ALLOCATORS = ("default", "platform", "bfc", "cuda_async")


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r}") from None
    if not minimum <= number < 2**63:
        raise ValueError(f"{name} must be an int64 >= {minimum}, got {number}")
    return number


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float in (0, 1], got {value!r}")
    if not (value > 0 and value <= 1):  # also refuses nan
        raise ValueError(f"{name} must be a float in (0, 1], got {value!r}")
    return float(value)


def _device_list(name: str, value: Any) -> list[int]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a list of device ordinals (ints), got {value!r}")
    ordinals = [_int(f"{name}[{i}]", v, 0) for i, v in enumerate(value)]
    if not ordinals:
        raise ValueError(f"{name} must name at least one device")
    if len(set(ordinals)) != len(ordinals):
        raise ValueError(f"{name} must not repeat a device, got {ordinals}")
    return ordinals


def _choice(choices: tuple[str, ...]) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    return check


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {value!r}")
    return value


def _at_least(minimum: int) -> Callable[[str, Any], int]:
    return lambda name, value: _int(name, value, minimum)


# The named create options of XLA's GPU plugin (pjrt_c_api_gpu_internal), with their types.
_GPU: dict[str, Callable[[str, Any], NamedValue]] = {
    "preallocate": _bool,
    "memory_fraction": _fraction,
    "visible_devices": _device_list,
    "allocator": _choice(GPU_ALLOCATORS),
    "collective_memory_size": _at_least(0),
    "platform_name": _str,
    "node_id": _at_least(0),
    "num_nodes": _at_least(1),
    "partition_index": _at_least(0),
    "should_stage_host_to_device_transfers": _bool,
    "abort_collectives_on_failure": _bool,
    "use_tfrt_gpu_client": _bool,
    "enable_mock_nccl": _bool,
    "mock_gpu_topology": _str,
}
_KNOWN: dict[str, dict[str, Callable[[str, Any], NamedValue]]] = {
    "gpu": _GPU,
    "cpu": {"cpu_device_count": _at_least(1)},
}


def _generic(name: str, value: Any) -> NamedValue:
    """A value of an option this module does not know: any ``PJRT_NamedValue`` type."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return _int(name, value, -2**63)
    if isinstance(value, (list, tuple)):
        return [_int(f"{name}[{i}]", v, -2**63) for i, v in enumerate(value)]
    raise TypeError(f"{name} must be a bool, int, float, str or list of int, got {value!r}")


def check_options(platform: str, options: Mapping[str, Any]) -> dict[str, NamedValue]:
    """``options`` checked for ``platform`` ("cpu", "gpu", ...), converted to ``PJRT_NamedValue`` types."""
    known = _KNOWN.get(platform, {})
    out: dict[str, NamedValue] = {}
    for name, value in options.items():
        if not isinstance(name, str):
            raise TypeError(f"option names must be str, got {name!r}")
        out[name] = known.get(name, _generic)(name, value)
    return out


#: Environment variables read for GPU clients (the option each sets).
ENV_OPTIONS = {
    "preallocate": "PJRT_ARRAY_PREALLOCATE",
    "memory_fraction": "PJRT_ARRAY_MEMORY_FRACTION",
    "allocator": "PJRT_ARRAY_ALLOCATOR",
    "visible_devices": "PJRT_ARRAY_VISIBLE_DEVICES",
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _parse(option: str, var: str, text: str) -> Any:
    """The value of environment variable ``var`` (which sets ``option``), checked."""
    try:
        if option == "preallocate":
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError(f"must be one of {', '.join(_TRUE + _FALSE)}, got {text!r}")
            return text.lower() in _TRUE
        if option == "memory_fraction":
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"must be a float in (0, 1], got {text!r}") from None
            if not math.isfinite(value):
                raise ValueError(f"must be a float in (0, 1], got {text!r}")
            return _fraction(var, value)
        if option == "visible_devices":
            try:
                return _device_list(var, [int(part) for part in text.split(",")])
            except ValueError as exc:
                raise ValueError(f"must be device ordinals separated by commas, e.g. 0,1 ({exc})") from None
        return _GPU[option](var, text)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        raise ValueError(message if message.startswith(var) else f"${var} {message}") from None


def environment_options(platform: str) -> dict[str, NamedValue]:
    """The create options set through the environment for a client of ``platform``."""
    if platform != "gpu":
        return {}
    out = {}
    for option, var in ENV_OPTIONS.items():
        text = os.environ.get(var)
        if text is not None and text.strip():
            out[option] = _parse(option, var, text.strip())
    return out
