"""The executable cache keeps each client's executables to itself."""

import numpy as np

import pjrt_array as xp
from pjrt_array._devices import Device, default_device
from pjrt_array._pjrt import Client


def test_two_clients_of_one_plugin_never_share_executables():
    a = xp.asarray([1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(a + a), [2.0, 4.0])  # cached for the namespace's client
    other = Client(default_device().client.plugin)
    try:
        device = Device(other.addressable_devices()[0], default_device().platform)
        x = xp.asarray([1.0, 2.0], device=device)
        y = x + x  # same program text and options: same fingerprint, but another client
        assert y.device == device
        np.testing.assert_array_equal(np.asarray(y), [2.0, 4.0])
        del x, y
    finally:
        other.close()
