"""The Collectives extension: communicators and collective operations on host memory.

A :class:`Collectives` object (from the Megascale extension) makes
:class:`Communicator` objects; both own their plugin objects.  Operations
take numpy arrays (send, receive) and wait for their completion event before
returning, so the arrays are never used by the plugin after the call.
``cpu_executor`` describes the rendezvous of a CPU collective.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import _abi
from .._handles import handles
from ..dtypes import from_numpy_dtype
from ..event import Event
from ._base import CStrings, Extension, Owned, take_bytes
from ._chain import ExtensionType

__all__ = ["CollectivesExtension", "Collectives", "Communicator", "CpuExecutor", "REDUCTIONS"]

_R = _abi.PJRT_Collectives_ReductionKind
#: Reduction names accepted by all_reduce / reduce_scatter.
REDUCTIONS = {"sum": _R.PJRT_COLLECTIVES_REDUCTION_SUM, "product": _R.PJRT_COLLECTIVES_REDUCTION_PRODUCT,
              "min": _R.PJRT_COLLECTIVES_REDUCTION_MIN, "max": _R.PJRT_COLLECTIVES_REDUCTION_MAX}
_OpKind = _abi.PJRT_Collectives_CollectiveOpKind


@dataclass(frozen=True)
class CpuExecutor:
    """The rendezvous of a CPU collective (``PJRT_Collectives_CpuExecutor``)."""

    run_id: int
    global_device_ids: Sequence[int]
    num_local_participants: int
    cross_replica: bool = True
    op_id: int = 0
    timeout_in_ns: int = 30_000_000_000

    def struct(self) -> tuple[_abi.PJRT_Collectives_CpuExecutor, Any]:
        """The C struct and the id array it points to (keep both alive)."""
        ids = (ctypes.c_int64 * max(len(self.global_device_ids), 1))(*[int(i) for i in self.global_device_ids])
        kind = _OpKind.PJRT_COLLECTIVES_COLLECTIVE_OP_KIND_CROSS_REPLICA if self.cross_replica \
            else _OpKind.PJRT_COLLECTIVES_COLLECTIVE_OP_KIND_CROSS_MODULE
        return _abi.PJRT_Collectives_CpuExecutor(
            run_id=self.run_id, global_device_ids=ctypes.addressof(ids),
            num_global_device_ids=len(self.global_device_ids), num_local_participants=self.num_local_participants,
            collective_op_kind=int(kind), op_id=self.op_id, timeout_in_ns=self.timeout_in_ns), ids


def _contiguous(array: Any, argname: str, writable: bool = False) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{argname} must be a numpy array, got {type(array).__name__}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{argname} must be C-contiguous")
    if writable and not array.flags.writeable:
        raise ValueError(f"{argname} must be writable")
    return array


class CollectivesExtension(Extension):
    """``PJRT_Collectives_Extension``."""

    TYPE = ExtensionType.PJRT_Extension_Type_Collectives
    STRUCT = _abi.PJRT_Collectives_Extension
    NAME = "Collectives"

    def collectives(self, handle: int) -> "Collectives":
        """Take ownership of a ``PJRT_Collectives*`` (e.g. from Megascale's ``create_megascale_collectives``)."""
        if isinstance(handle, bool) or not isinstance(handle, int) or not handle:
            raise ValueError(f"handle must be a non-null PJRT_Collectives*, got {handle!r}")
        return Collectives(self, handle)


class Collectives(Owned):
    """A collectives implementation (owned ``PJRT_Collectives*``)."""

    _what = "Collectives"

    def __init__(self, extension: CollectivesExtension, handle: int) -> None:
        super().__init__(None, handle)
        self._ext = extension

    def _release(self, handle: int) -> None:
        """``PJRT_Collectives_Destroy``."""
        self._ext._call("collectives_destroy", self._ext._slot_args("collectives_destroy", collectives=handle))

    def create_communicators(self, device_ids: Sequence[int], rank_ids: Sequence[int],
                             clique_ids: Sequence[bytes] = ()) -> list["Communicator"]:
        """One communicator per device rank of a clique (``PJRT_Collectives_CreateCommunicators``)."""
        devices = (ctypes.c_int64 * max(len(device_ids), 1))(*[int(d) for d in device_ids])
        ranks = (ctypes.c_int64 * max(len(rank_ids), 1))(*[int(r) for r in rank_ids])
        cliques = CStrings(clique_ids, "clique_ids")
        a = self._ext._call("collectives_create_communicators", self._ext._slot_args(
            "collectives_create_communicators", collectives=self.handle, device_ids=ctypes.addressof(devices),
            num_device_ids=len(device_ids), clique_ids=ctypes.addressof(cliques.pointers) if cliques.count else 0,
            clique_id_sizes=ctypes.addressof(cliques.sizes) if cliques.count else 0, num_clique_ids=cliques.count,
            rank_ids=ctypes.addressof(ranks), num_device_ranks=len(rank_ids)))
        try:
            return [Communicator(self._ext, h) for h in handles(a.communicators, int(a.num_communicators))]
        finally:
            if a.communicators_holder_deleter:
                a.communicators_holder_deleter(a.communicators_holder)


class Communicator(Owned):
    """One rank's communicator (owned ``PJRT_Collectives_Communicator*``)."""

    _what = "Communicator"

    def __init__(self, extension: CollectivesExtension, handle: int) -> None:
        super().__init__(None, handle)
        self._ext = extension

    def _release(self, handle: int) -> None:
        """``PJRT_Collectives_Communicator_Destroy``."""
        self._ext._call("communicator_destroy", self._ext._slot_args("communicator_destroy", communicator=handle))

    def _run(self, slot: str, send: Any, recv: Any, count: int | None, executor: CpuExecutor | None,
             **fields: Any) -> None:
        send = _contiguous(send, "send")
        recv = _contiguous(recv, "recv", writable=True)
        if send.dtype != recv.dtype:
            raise TypeError(f"send and recv must have one dtype, got {send.dtype} and {recv.dtype}")
        cpu, _ids = executor.struct() if executor is not None else (None, None)
        a = self._ext._call(slot, self._ext._slot_args(
            slot, communicator=self.handle, send_buffer_ptr=send.ctypes.data, send_buffer_size=send.nbytes,
            recv_buffer_ptr=recv.ctypes.data, recv_buffer_size=recv.nbytes,
            primitive_type=from_numpy_dtype(send.dtype, "send"), count=send.size if count is None else count,
            cpu_executor=ctypes.addressof(cpu) if cpu is not None else 0, **fields))
        if a.event:
            with Event(self._ext.api, a.event) as event:
                event.wait()

    @staticmethod
    def _reduction(reduction: str) -> int:
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {sorted(REDUCTIONS)}, got {reduction!r}")
        return int(REDUCTIONS[reduction])

    def all_reduce(self, send: np.ndarray, recv: np.ndarray, reduction: str = "sum",
                   cpu_executor: CpuExecutor | None = None) -> None:
        """``PJRT_Collectives_Communicator_AllReduce``."""
        self._run("communicator_all_reduce", send, recv, None, cpu_executor,
                  reduction_kind=self._reduction(reduction))

    def reduce_scatter(self, send: np.ndarray, recv: np.ndarray, reduction: str = "sum",
                       cpu_executor: CpuExecutor | None = None) -> None:
        """``PJRT_Collectives_Communicator_ReduceScatter`` (``count`` is the received element count)."""
        self._run("communicator_reduce_scatter", send, recv, recv.size, cpu_executor,
                  reduction_kind=self._reduction(reduction))

    def all_gather(self, send: np.ndarray, recv: np.ndarray, cpu_executor: CpuExecutor | None = None) -> None:
        """``PJRT_Collectives_Communicator_AllGather``."""
        self._run("communicator_all_gather", send, recv, None, cpu_executor)

    def collective_permute(self, send: np.ndarray, recv: np.ndarray, source_rank: int | None,
                           target_ranks: Sequence[int], cpu_executor: CpuExecutor | None = None) -> None:
        """``PJRT_Collectives_Communicator_CollectivePermute``."""
        targets = (ctypes.c_int64 * max(len(target_ranks), 1))(*[int(t) for t in target_ranks])
        self._run("communicator_collective_permute", send, recv, None, cpu_executor,
                  has_source_rank=source_rank is not None, source_rank=source_rank or 0,
                  target_ranks=ctypes.addressof(targets), num_target_ranks=len(target_ranks))

    def all_to_all(self, sends: Sequence[np.ndarray], recvs: Sequence[np.ndarray],
                   cpu_executor: CpuExecutor | None = None) -> None:
        """``PJRT_Collectives_Communicator_AllToAll`` (one send and one receive array per peer)."""
        sends = [_contiguous(s, f"sends[{i}]") for i, s in enumerate(sends)]
        recvs = [_contiguous(r, f"recvs[{i}]", writable=True) for i, r in enumerate(recvs)]
        if not sends or len(sends) != len(recvs):
            raise ValueError("all_to_all needs the same non-zero number of send and receive arrays")
        dtypes = {a.dtype for a in (*sends, *recvs)}
        if len(dtypes) != 1:
            raise TypeError(f"all arrays of all_to_all must have one dtype, got {sorted(map(str, dtypes))}")
        n = len(sends)
        send_ptrs = (ctypes.c_void_p * n)(*[s.ctypes.data for s in sends])
        send_sizes = (ctypes.c_size_t * n)(*[s.nbytes for s in sends])
        recv_ptrs = (ctypes.c_void_p * n)(*[r.ctypes.data for r in recvs])
        recv_sizes = (ctypes.c_size_t * n)(*[r.nbytes for r in recvs])
        cpu, _ids = cpu_executor.struct() if cpu_executor is not None else (None, None)
        a = self._ext._call("communicator_all_to_all", self._ext._slot_args(
            "communicator_all_to_all", communicator=self.handle, send_buffers_ptrs=ctypes.addressof(send_ptrs),
            send_buffers_sizes=ctypes.addressof(send_sizes), num_send_buffers=n,
            recv_buffers_ptrs=ctypes.addressof(recv_ptrs), recv_buffers_sizes=ctypes.addressof(recv_sizes),
            num_recv_buffers=n, primitive_type=from_numpy_dtype(sends[0].dtype, "sends"), count=sends[0].size,
            cpu_executor=ctypes.addressof(cpu) if cpu is not None else 0))
        if a.event:
            with Event(self._ext.api, a.event) as event:
                event.wait()

    def to_string(self) -> str:
        """A description of the communicator (``PJRT_Collectives_Communicator_ToString``)."""
        a = self._ext._call("communicator_to_string",
                            self._ext._slot_args("communicator_to_string", communicator=self.handle))
        return take_bytes(a.str, a.str_size, a.str_holder, a.str_holder_deleter).decode("utf-8", "replace")

    def __str__(self) -> str:
        return self.to_string()
