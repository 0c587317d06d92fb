"""shipyard: one lock from laptop to container.

The package is layered as ``../shared/DESIGN.md`` describes: ``errors`` and
``specs`` at the bottom, use cases in ``project``, and only ``cli`` prints or
exits. Importing :mod:`shipyard` itself imports nothing heavy.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
