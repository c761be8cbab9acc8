"""Runner for the official array-api-tests suite against pjrt_array (``python -m conformance``)."""
