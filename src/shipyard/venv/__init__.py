"""Virtual environments (PEP 405), created and inspected without the ``venv`` module."""

from shipyard.venv.create import VirtualEnvironment, create_venv, inspect_venv

__all__ = ["VirtualEnvironment", "create_venv", "inspect_venv"]
