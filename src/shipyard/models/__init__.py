"""Plain data shared between the layers: frozen, slotted, keyword-only dataclasses.

Nothing here does I/O. Each class names a concept of ``../shared/DESIGN.md``.
"""

from shipyard.models.files import DistFile
from shipyard.models.interpreter import Interpreter
from shipyard.models.scheme import InstallScheme
from shipyard.models.targets import TargetEnvironment

__all__ = ["DistFile", "InstallScheme", "Interpreter", "TargetEnvironment"]
