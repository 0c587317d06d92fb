"""The target environments of ``shipyard pip compile``: the interpreter's own, another
Python version or platform (``--python-version``/``--python-platform``), or every
platform (``--universal``)."""

from __future__ import annotations

from collections.abc import Mapping

from packaging.specifiers import SpecifierSet

from shipyard.errors import UsageError
from shipyard.models import Interpreter, TargetEnvironment

__all__ = ["PYTHON_PLATFORMS", "compile_targets"]

#: ``--python-platform`` values: uv's names and target triples → (family, machine).
PYTHON_PLATFORMS: Mapping[str, tuple[str, str]] = {
    "linux": ("linux", "x86_64"),
    "macos": ("macos", "arm64"),
    "windows": ("windows", "AMD64"),
    "x86_64-unknown-linux-gnu": ("linux", "x86_64"),
    "aarch64-unknown-linux-gnu": ("linux", "aarch64"),
    "x86_64-manylinux": ("linux", "x86_64"),
    "aarch64-manylinux": ("linux", "aarch64"),
    "x86_64-apple-darwin": ("macos", "x86_64"),
    "aarch64-apple-darwin": ("macos", "arm64"),
    "x86_64-pc-windows-msvc": ("windows", "AMD64"),
}
_FAMILY_OF_SYS_PLATFORM = {"linux": "linux", "darwin": "macos", "win32": "windows"}


def _minor(text: str) -> tuple[tuple[int, int], str]:
    parts = text.strip().split(".")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or numbers[0] != 3:
        raise UsageError(
            f"--python-version {text!r} is not a Python version.",
            hint="Give it as 3.X or 3.X.Y, for example --python-version 3.11.",
        )
    full = (
        ".".join(str(n) for n in numbers) if len(numbers) == 3 else f"{numbers[0]}.{numbers[1]}.0"
    )
    return (numbers[0], numbers[1]), full


def compile_targets(
    interpreter: Interpreter,
    *,
    universal: bool,
    python_version: str | None,
    python_platform: str | None,
    requires_python: SpecifierSet | None = None,
) -> tuple[TargetEnvironment, ...]:
    """The target environments of a ``pip compile``.

    :param interpreter: the interpreter found for the compile; its version and
        platform fill in what ``python_version``/``python_platform`` leave out.
    :param universal: every supported platform and Python minor from the
        ``python_version`` (or the interpreter's) upwards, within ``requires_python``.
    :param python_platform: a key of :data:`PYTHON_PLATFORMS`.
    :raises UsageError: for an unknown platform or version, or ``universal`` together
        with ``python_platform``.
    """
    from shipyard.specs.targets import default_targets, target_for, target_from_interpreter

    if universal and python_platform:
        raise UsageError(
            "--universal and --python-platform cannot be combined: a universal file "
            "serves every platform.",
            hint="Drop one of them.",
        )
    version = _minor(python_version) if python_version else None
    if universal:
        minor = version[0] if version else interpreter.version_tuple[:2]
        lower = SpecifierSet(f">={minor[0]}.{minor[1]}")
        return default_targets(lower & requires_python if requires_python else lower)
    if version is None and python_platform is None:
        return (target_from_interpreter(interpreter),)
    if python_platform is not None:
        if python_platform not in PYTHON_PLATFORMS:
            raise UsageError(
                f"--python-platform {python_platform!r} is not a platform shipyard knows.",
                hint=f"Use one of: {', '.join(PYTHON_PLATFORMS)}.",
            )
        family, machine = PYTHON_PLATFORMS[python_platform]
    else:
        family = _FAMILY_OF_SYS_PLATFORM.get(interpreter.markers.get("sys_platform", ""), "")
        machine = interpreter.markers.get("platform_machine", "")
    if version is None:
        minor = interpreter.version_tuple[:2]
        version = ((minor[0], minor[1]), interpreter.markers["python_full_version"])
    try:
        return (target_for(version[0], family, machine, version[1]),)
    except KeyError:
        raise UsageError(
            f"This machine's platform ({family or 'unknown'} {machine}) is not one shipyard "
            "can target by version alone.",
            hint="Add --python-platform, or compile for this interpreter without --python-version.",
        ) from None
