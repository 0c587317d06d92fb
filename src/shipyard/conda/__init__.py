"""Conda packages next to PyPI ones: the manifest table, solving with py-rattler,
lock records and conda prefixes."""
