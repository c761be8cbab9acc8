"""The ``fft`` extension of the Array API (``pjrt_array.fft``)."""

from .ops.fft import *  # noqa: F403
from .ops.fft import __all__  # noqa: F401 - the extension's public names
