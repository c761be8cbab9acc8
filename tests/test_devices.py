"""Committed and uncommitted placement: arrays made without ``device=`` join an op with arrays on one
other device by moving there; arrays placed explicitly on two different devices are refused."""

import numpy as np
import pytest

import pjrt_array as xp

pytestmark = pytest.mark.cpu_only  # the CPU plugins have several devices; one GPU has one

DEVICES = xp.__array_namespace_info__().devices()
D0, D1, D2 = DEVICES[0], DEVICES[1], DEVICES[2]
A = np.array([[1.5, -2.0, 0.0], [np.inf, -0.0, 3.0]])
B = np.array([[0.5, 4.0, -1.0], [2.0, np.nan, 1.0]])


def test_placement_without_device_is_the_uncommitted_default():
    x = xp.asarray(A)
    assert x.device == D0 == xp.__array_namespace_info__().default_device()
    assert not x.device.committed and hash(x.device) == hash(D0) and repr(x.device) == "Device(cpu:0)"
    assert xp.asarray(A, device=D0).device.committed and xp.asarray(A, device=D1).device.committed
    for make in (lambda: xp.zeros(3), lambda: xp.arange(3), lambda: xp.eye(2), lambda: xp.full((2,), 1.0),
                 lambda: xp.linspace(0, 1, 3), lambda: xp.exp(x), lambda: x + x, lambda: x[0],
                 lambda: xp.asarray(B, device=x.device), lambda: xp.zeros_like(x)):
        assert not make().device.committed
    assert xp.zeros_like(xp.asarray(A, device=D1)).device.committed


# (operation, its numpy counterpart): the first operand is made without device=, the second on D1.
OPS = [
    (lambda m, a, b: a + b, lambda a, b: a + b),
    (lambda m, a, b: b * a, lambda a, b: b * a),
    (lambda m, a, b: m.where(a > 0, a, b), lambda a, b: np.where(a > 0, a, b)),
    (lambda m, a, b: m.vecdot(a, b), lambda a, b: np.sum(a * b, axis=-1)),
    (lambda m, a, b: m.matmul(a, m.matrix_transpose(b)), lambda a, b: a @ b.T),
    (lambda m, a, b: m.tensordot(a, b, axes=2), lambda a, b: np.tensordot(a, b, axes=2)),
    (lambda m, a, b: m.concat([a, b]), lambda a, b: np.concatenate([a, b])),
    (lambda m, a, b: m.stack([b, a], axis=1), lambda a, b: np.stack([b, a], axis=1)),
    (lambda m, a, b: m.clip(b, a, None), lambda a, b: np.clip(b, a, None)),
    (lambda m, a, b: m.isin(a, b), lambda a, b: np.isin(a, b)),
    (lambda m, a, b: m.take(b, m.astype(m.abs(a[0]), m.int64) % 3, axis=1),
     lambda a, b: np.take(b, np.abs(a[0]).astype(np.int64) % 3, axis=1)),
    (lambda m, a, b: b[m.abs(a) > 1], lambda a, b: b[np.abs(a) > 1]),
    (lambda m, a, b: m.diff(b, axis=1, prepend=a[:, :1]), lambda a, b: np.diff(b, axis=1, prepend=a[:, :1])),
]


@pytest.mark.parametrize("op, oracle", OPS)
def test_uncommitted_operand_moves_to_the_committed_device(op, oracle):
    a, b = xp.asarray(A), xp.asarray(B, device=D1)
    with np.errstate(all="ignore"):
        expected = oracle(A, B)
    for out in (op(xp, a, b), op(xp, xp.asarray(A, device=a.device), b)):
        assert out.device == D1 and out.device.committed
        np.testing.assert_array_equal(np.asarray(out), expected)
    assert a.device == D0  # the operand itself stays where it was


def test_uncommitted_index_arrays_move_to_the_indexed_array():
    b = xp.asarray(B, device=D1)
    for out, expected in ((b[xp.asarray([1, 0])], B[[1, 0]]), (b[:, xp.asarray([2, 2])], B[:, [2, 2]]),
                          (b[xp.asarray([[True, False, True], [False, False, True]])],
                           B[np.array([[True, False, True], [False, False, True]])])):
        assert out.device == D1
        np.testing.assert_array_equal(np.asarray(out), expected)


def test_committed_operand_makes_the_result_committed_on_the_default_device():
    u, c = xp.asarray(A), xp.asarray(B, device=D0)
    for out in (u + c, c + u, xp.stack([u, c]), xp.vecdot(u, c), 2.0 * c):
        assert out.device == D0 and out.device.committed
    assert not (u + u).device.committed


def test_broadcast_arrays_and_jit_follow_the_rule():
    a, b = xp.asarray(A[0]), xp.asarray(B, device=D1)
    for out, expected in zip(xp.broadcast_arrays(a, b), np.broadcast_arrays(A[0], B)):
        assert out.device == D1
        np.testing.assert_array_equal(np.asarray(out), expected)
    f = xp.jit(lambda x, y: x * y)
    for x in (a, xp.asarray(A[0], device=a.device)):
        out = f(x, b)
        assert out.device == D1
        np.testing.assert_array_equal(np.asarray(out), A[0] * B)
    # One signature, its outputs placed as each call's arguments are.
    assert not f(a, xp.asarray(B)).device.committed
    assert f(xp.asarray(A[0], device=D0), xp.asarray(B)).device.committed
    with pytest.raises(ValueError, match=r"different devices \(Device\(cpu:0\) and Device\(cpu:1\)\)"):
        f(xp.asarray(A[0], device=D0), b)
    with pytest.raises(ValueError, match=r"different devices \(Device\(cpu:2\) and Device\(cpu:1\)\)"):
        f(xp.asarray(A[0], device=D2), b)


@pytest.mark.parametrize("first, second", [(D1, D2), (D0, D1), (D2, D0)])
def test_committed_operands_on_two_devices_raise_naming_both(first, second):
    a, b = xp.asarray(A, device=first), xp.asarray(B, device=second)
    names = rf"different devices (?=.*Device\(cpu:{first.id}\))(?=.*Device\(cpu:{second.id}\))"
    for op, _ in OPS:
        with pytest.raises(ValueError, match=names):
            op(xp, a, b)
    with pytest.raises(ValueError, match=f"Device\\(cpu:{second.id}\\)"):
        a[xp.asarray([0], device=second)]


def test_writes_move_an_uncommitted_value_never_the_array_written():
    target, expected = xp.asarray(B, device=D1), B.copy()
    target[0] = xp.asarray(A[0])
    target[xp.asarray([1])] = xp.asarray(A[1:])
    expected[0], expected[[1]] = A[0], A[1:]
    np.testing.assert_array_equal(np.asarray(target), expected)
    assert target.device == D1
    local = xp.asarray(A)
    with pytest.raises(ValueError, match="value is on Device\\(cpu:1\\)"):
        local[0] = xp.asarray(B[0], device=D1)
    with pytest.raises(ValueError, match="key is on Device\\(cpu:1\\)"):
        local[xp.asarray([0], device=D1)] = 1.0
    np.testing.assert_array_equal(np.asarray(local), A)


def test_to_device_onto_the_same_device_keeps_the_array():
    x = xp.asarray(A)
    assert x.to_device(D0) is x and x.to_device(None) is x
    moved = x.to_device(D1)
    assert moved.device == D1 and moved.device.committed
    np.testing.assert_array_equal(np.asarray(moved), A)


def test_one_program_serves_every_device():
    """One-device programs are portable on the CPU plugins: an op compiled for one device runs on
    the others without a compile, and each result is on its operand's device."""
    from pjrt_array import _host_tier

    x = np.linspace(-3.0, 3.0, 37).reshape(37, 1)  # a shape of its own: no test compiled it before
    _host_tier.set_host_tier(False)
    try:
        before = _programs_made()
        results = []
        for device in (D2, D0, D1):
            y = xp.tanh(xp.asarray(x, device=device))
            assert y.device == device
            results.append(np.asarray(y))
    finally:
        _host_tier.set_host_tier(True)
    np.testing.assert_allclose(results[0], np.tanh(x), rtol=1e-15)
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])
    assert _programs_made() - before == 1


def _programs_made() -> int:
    """Executables compiled or loaded from the disk cache so far."""
    from pjrt_array import _dispatch

    info = _dispatch.cache_info()
    return info["compiles"] + info["disk_hits"]
