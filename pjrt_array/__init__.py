"""pjrt_array: an Array API 2025.12 namespace whose arrays live in PJRT buffers.

``import pjrt_array as xp`` and write Array API code; each operation is
lowered to StableHLO, compiled once, cached, and run asynchronously on the
chosen device of whatever PJRT plugin is installed (CPU by default;
``PJRT_ARRAY_PLATFORM=gpu`` or ``set_default_platform("gpu")`` for a GPU).
"""

import math as _math

from . import _array, _dispatch
from ._array import Array
from ._devices import Device, plugins, set_client_options, set_default_platform, set_default_plugin
from ._dispatch import cache_clear, cache_info, set_cache_size
from ._fusion import fusion_enabled, set_fusion
from ._inflight import inflight_limit, set_inflight_limit
from ._dtypes import (bfloat16, bool, can_cast, complex64, complex128, finfo, float16, float32, float64,
                      iinfo, int8, int16, int32, int64, isdtype, result_type, uint8, uint16, uint32, uint64)
from ._info import __array_namespace_info__
from ._control_flow import cond, fori_loop, while_loop
from ._tracing import ConcretizationError
from .jit import jit
from ._sharding import Mesh, NamedSharding, Shard, make_mesh, to_device
from .ops.creation import *  # noqa: F403
from .ops.data_types import *  # noqa: F403
from .ops.elementwise import *  # noqa: F403
from .ops.indexing import *  # noqa: F403
from .ops.linalg_core import *  # noqa: F403
from .ops.manipulation import *  # noqa: F403
from .ops.searching import *  # noqa: F403
from .ops.sets import *  # noqa: F403
from .ops.sorting import *  # noqa: F403
from .ops.statistical import *  # noqa: F403
from .ops.utility import *  # noqa: F403
from . import distributed, fft, linalg  # noqa: E402  (after the functions they re-export)
from .ops import (creation as _creation, data_types as _data_types, elementwise as _elementwise,
                  indexing as _indexing, linalg_core as _linalg_core, manipulation as _manipulation,
                  searching as _searching, sets as _sets, sorting as _sorting, statistical as _statistical,
                  utility as _utility)

__array_api_version__ = "2025.12"

e = _math.e
inf = _math.inf
nan = _math.nan
pi = _math.pi
newaxis = None

__all__ = sorted({
    *_creation.__all__, *_data_types.__all__, *_elementwise.__all__, *_indexing.__all__, *_linalg_core.__all__,
    *_manipulation.__all__, *_searching.__all__, *_sets.__all__, *_sorting.__all__, *_statistical.__all__,
    *_utility.__all__,
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "bfloat16",
    "float32", "float64", "complex64", "complex128", "can_cast", "finfo", "iinfo", "isdtype", "result_type",
    "e", "inf", "nan", "newaxis", "pi", "fft", "linalg", "Array", "Device", "__array_namespace_info__",
    "__array_api_version__", "plugins", "set_default_plugin", "set_default_platform", "set_client_options",
    "cache_info", "cache_clear", "set_cache_size", "Mesh", "NamedSharding", "Shard", "make_mesh", "to_device",
    "distributed", "set_inflight_limit", "inflight_limit",
    "jit", "fori_loop", "while_loop", "cond", "ConcretizationError", "set_fusion", "fusion_enabled",
})

_array.bind_functions({**globals(), **vars(_indexing), "transposed": _manipulation.transposed})
