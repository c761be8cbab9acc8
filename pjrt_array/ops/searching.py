"""searching functions of the Array API."""

__all__: list[str] = []
