"""A value computed on the host that becomes a buffer on first device use.

An eager LAPACK call on a small matrix runs on the host (``ops._lapack_run``);
uploading each of its results costs the plugin's copy, its event and a
``Buffer`` (4-5 us each at 8x8: more than LAPACK's own time, so ``svd``'s three
results cost more than the decomposition).  Its Arrays instead hold a
:class:`HostValue` as their buffer and the result as their cached host view
(``Array._host``, read-only), so a host read (``float(det(a))``, printing,
another host-path LAPACK call) never uploads.  The first use that needs the
device's buffer (an op's execute reading ``_handle``, any other ``Buffer``
attribute) uploads a copy, once, under a lock (threads may share the Array).

What changes for nothing else: the upload holds the same bytes as the host
value, and nothing can write the uploaded buffer without going through the
Array.  Those ways are covered here: a writable host view and a DLPack export
:func:`materialize` the Array first (its ``_buf`` becomes the Buffer and the
host copy is dropped, so the writes are what later reads see); donation never
takes a ``HostValue`` (``deferred``, as a fusion value is: the op copies
instead); a write (``_mutation``) replaces the buffer and drops the host view;
a jitted function that donates the Array drops both.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from ._pjrt import Buffer
from ._pjrt.buffer_hot import MAX_RANK, copy_from_host

if TYPE_CHECKING:
    from ._array import Array
    from ._devices import Device

__all__ = ["HostValue", "HOST_DTYPES", "upload", "materialize"]

#: numpy's own dtypes: the values a host value may hold (ml_dtypes' and sub-byte ones stay on the device)
HOST_DTYPES = frozenset(np.dtype(t) for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                                              np.uint32, np.uint64, np.float16, np.float32, np.float64,
                                              np.complex64, np.complex128))

_lock = threading.Lock()  # one upload per value, whichever thread gets there first


def upload(values: np.ndarray, aval: tuple[tuple[int, ...], np.dtype], device: "Device") -> Buffer:
    """A new buffer on ``device`` holding a copy of ``values`` (numpy's own dtypes), made during the
    call: nothing, not even an operand ``values`` is a view of, aliases it."""
    client = device.client
    if values.ndim > MAX_RANK:  # (the lean upload's limit; the general one takes any rank)
        return client.buffer_from_numpy(values, device.pjrt)
    handle = copy_from_host(client.api, client.handle, np.ascontiguousarray(values), device.handle)
    buffer = Buffer(client, handle, aval[1], aval[0])
    if device.platform == "cpu":  # the data is in place (copied during the call): a host view needs no wait
        buffer._data_address(handle, ready=True)
    return buffer


class HostValue:
    """An Array's buffer while its value lives on the host only (see the module docstring)."""

    # (__weakref__: a key of weak caches, as a Buffer is)
    __slots__ = ("value", "aval", "device", "buffer", "lasting", "__weakref__")
    #: what ``_donation`` checks: never given away (the upload would be the only copy the op sees)
    deferred = True

    def __init__(self, value: np.ndarray, aval: tuple[tuple[int, ...], np.dtype], device: "Device",
                 lasting: bool = True) -> None:
        self.value = value
        self.aval = aval
        self.device = device
        self.buffer: Buffer | None = None
        # Whether the host is the value's home (an iteration's element, a small LAPACK result):
        # one- and two-operand ops on it then run on the host at every call
        # (``_host_tier.on_host_values``).  Not for a first sighting's result (``_host_tier``):
        # the ops of code that repeats must still compile.
        self.lasting = lasting

    def get(self) -> Buffer:
        """The uploaded buffer (uploaded on the first call)."""
        buffer = self.buffer
        if buffer is None:
            with _lock:
                buffer = self.buffer
                if buffer is None:
                    buffer = self.buffer = upload(self.value, self.aval, self.device)
        return buffer

    @property
    def _handle(self) -> int:  # what every execute reads: a property, not the __getattr__ fallback
        return self.get()._handle

    def block_until_ready(self) -> "HostValue":
        return self  # computed already

    def numpy_view(self, known_on_host: bool = False, ready: bool = False, writable: bool = False) -> np.ndarray:
        """The value (read-only; a writable view is of the uploaded buffer, see :func:`materialize`)."""
        if writable:
            return self.get().numpy_view(known_on_host=known_on_host, ready=ready, writable=True)
        return self.value

    def transient_view(self) -> np.ndarray:
        """The value (``Buffer.transient_view``'s read for the host tier: no upload)."""
        return self.value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


def materialize(x: "Array") -> None:
    """Give ``x`` (a base) its uploaded buffer, dropping its host copy: for ways that write the
    buffer's memory behind the Array's back (writable host views, DLPack)."""
    value = x._buf
    if type(value) is HostValue:
        x._buf = value.get()
        x._host = None
