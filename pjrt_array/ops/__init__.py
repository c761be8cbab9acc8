"""Lowering rules and the namespace functions built on them, one module per family."""
