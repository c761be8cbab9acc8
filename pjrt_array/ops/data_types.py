"""data_types functions of the Array API."""

__all__: list[str] = []
