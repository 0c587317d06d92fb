"""Plain data shared between the layers: frozen, slotted, keyword-only dataclasses.

Nothing here does I/O. Each class names a concept of ``../shared/DESIGN.md``.
"""

from shipyard.models.files import DistFile
from shipyard.models.interpreter import Interpreter
from shipyard.models.locked import LockedDistribution
from shipyard.models.lockfile import LockFile
from shipyard.models.metadata import CoreMetadata, parse_core_metadata
from shipyard.models.scheme import InstallScheme
from shipyard.models.targets import TargetEnvironment
from shipyard.models.versions import ProjectVersion, Row, VersionGroup, rows_to_files

__all__ = [
    "CoreMetadata",
    "DistFile",
    "InstallScheme",
    "Interpreter",
    "LockFile",
    "LockedDistribution",
    "ProjectVersion",
    "Row",
    "TargetEnvironment",
    "VersionGroup",
    "parse_core_metadata",
    "rows_to_files",
]
