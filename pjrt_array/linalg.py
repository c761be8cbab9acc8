"""The ``linalg`` extension of the Array API (``pjrt_array.linalg``).

It also re-exports the four top-level linear algebra functions
(``matmul``, ``matrix_transpose``, ``tensordot``, ``vecdot``), as the standard asks.
"""

from .ops import linalg as _linalg
from .ops import linalg_core as _core
from .ops.linalg import *  # noqa: F403
from .ops.linalg_core import *  # noqa: F403

__all__ = [*_linalg.__all__, *_core.__all__]
