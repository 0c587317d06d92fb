"""Target environments of a universal lock, and which wheels serve each.

The default targets (``../shared/DESIGN.md``): every released CPython minor that
``requires-python`` allows, on Linux x86_64 and aarch64, macOS x86_64 and arm64,
and Windows AMD64. ``[tool.shipyard] environments`` (PEP 508 markers) keeps only
the targets where at least one of its markers holds. Linux armv7l (32-bit ARM, a
Raspberry Pi OS) is no default target: it is locked only when an environment marker
asks for it (``platform_machine == 'armv7l'``).

A target's ``python_full_version`` is the lowest patch release of its minor that
``requires-python`` admits, so a package's ``Requires-Python`` is checked against
the oldest interpreter the lock promises to serve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from shipyard.errors import ManifestError
from shipyard.models import Interpreter, TargetEnvironment

__all__ = [
    "KNOWN_PYTHON_MINORS",
    "NON_DEFAULT_PLATFORMS",
    "OCI_PLATFORMS",
    "PLATFORMS",
    "default_targets",
    "oci_platform_target",
    "patch_boundaries",
    "refine_targets",
    "target_for",
    "target_from_interpreter",
    "wheel_for_platforms",
    "wheel_tags_match_target",
    "wheel_target_mask",
]

#: the highest patch number a range target is assumed to stand for
_LAST_PATCH = 60

#: CPython minors that have a final release (3.15.0: October 2026). Update at each release.
KNOWN_PYTHON_MINORS: tuple[tuple[int, int], ...] = tuple((3, minor) for minor in range(8, 16))

#: (family, machine, sys_platform, platform_system, os_name, platform-tag pattern)
PLATFORMS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("linux", "x86_64", "linux", "Linux", "posix", r"(manylinux\d*(_\d+_\d+)?|linux)_x86_64"),
    ("linux", "aarch64", "linux", "Linux", "posix", r"(manylinux\d*(_\d+_\d+)?|linux)_aarch64"),
    ("macos", "x86_64", "darwin", "Darwin", "posix", r"macosx_\d+_\d+_(x86_64|intel|universal2?)"),
    ("macos", "arm64", "darwin", "Darwin", "posix", r"macosx_\d+_\d+_(arm64|universal2)"),
    ("windows", "AMD64", "win32", "Windows", "nt", r"win_amd64"),
    ("linux", "armv7l", "linux", "Linux", "posix", r"(manylinux\d*(_\d+_\d+)?|linux)_armv7l"),
)
_PLATFORM_PATTERNS = {(p[0], p[1]): re.compile(p[5]) for p in PLATFORMS}

#: (family, machine) of the :data:`PLATFORMS` a lock targets only when an
#: ``environments`` marker asks for them (see :func:`default_targets`).
NON_DEFAULT_PLATFORMS: frozenset[tuple[str, str]] = frozenset({("linux", "armv7l")})

#: OCI platforms (``os/architecture[/variant]``, as ``--platform`` and an index's
#: ``platforms`` key write them) → the (family, machine) of their lock targets.
OCI_PLATFORMS: dict[str, tuple[str, str]] = {
    "linux/amd64": ("linux", "x86_64"),
    "linux/arm64/v8": ("linux", "aarch64"),
    "linux/arm/v7": ("linux", "armv7l"),
    "darwin/amd64": ("macos", "x86_64"),
    "darwin/arm64": ("macos", "arm64"),
    "windows/amd64": ("windows", "AMD64"),
}
#: other spellings of OCI architectures (``uname -m`` and Debian names)
_OCI_ARCHITECTURES = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "armv7": "arm",
    "armhf": "arm",
}
#: the variant an architecture has when none is written
_OCI_VARIANTS = {"arm64": "v8", "arm": "v7"}


def _lowest_patch(minor: tuple[int, int], requires_python: SpecifierSet | None) -> str | None:
    for patch in range(0, 40):
        candidate = f"{minor[0]}.{minor[1]}.{patch}"
        if requires_python is None or requires_python.contains(candidate, prereleases=True):
            return candidate
    return None


def target_for(
    minor: tuple[int, int],
    family: str,
    machine: str,
    full_version: str | None = None,
    *,
    python_range: bool = False,
) -> TargetEnvironment:
    """The :class:`TargetEnvironment` for CPython ``minor`` on ``family``/``machine``.

    :param family: ``"linux"``, ``"macos"`` or ``"windows"`` (see :data:`PLATFORMS`).
    :param full_version: ``python_full_version``; defaults to ``"X.Y.0"``.
    :param python_range: the target stands for the patch releases from ``full_version``
        on (see :class:`TargetEnvironment`).
    :raises KeyError: for an unknown platform.
    """
    found = next((p for p in PLATFORMS if p[0] == family and p[1] == machine), None)
    if found is None:
        raise KeyError((family, machine))
    sys_platform, system, os_name = found[2], found[3], found[4]
    full = full_version or f"{minor[0]}.{minor[1]}.0"
    markers = {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": os_name,
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": full,
        "python_version": f"{minor[0]}.{minor[1]}",
        "sys_platform": sys_platform,
    }
    patch = full.split(".")[2] if full.count(".") >= 2 else "0"
    refined = f".{patch}" if python_range and patch != "0" else ""
    name = f"cp{minor[0]}{minor[1]}{refined}-{family}-{machine.lower()}"
    return TargetEnvironment(
        name=name,
        markers=markers,
        platform=family,
        machine=machine,
        python=minor,
        python_range=python_range,
    )


def default_targets(
    requires_python: SpecifierSet | None, environments: Sequence[str] = ()
) -> tuple[TargetEnvironment, ...]:
    """The target environments of a project's lock.

    :param requires_python: the project's ``requires-python`` (``None``: any).
    :param environments: ``[tool.shipyard] environments`` markers; empty keeps all the
        default platforms. A platform of :data:`NON_DEFAULT_PLATFORMS` is kept only
        where a marker holds because of its ``platform_machine`` (see
        :func:`_asks_for_machine`), whatever else the markers select.
    :returns: targets ordered by Python minor, then :data:`PLATFORMS` order.
    :raises ManifestError: when a marker is invalid or nothing is left to target.
    """
    markers: list[Marker] = []
    for text in environments:
        try:
            markers.append(Marker(text))
        except InvalidMarker as exc:
            raise ManifestError(
                f"Invalid marker in [tool.shipyard] environments: {text!r} ({exc}).",
                context="pyproject.toml",
                hint="Use PEP 508 markers such as \"sys_platform == 'linux'\".",
            ) from exc
    targets: list[TargetEnvironment] = []
    for minor in KNOWN_PYTHON_MINORS:
        full = _lowest_patch(minor, requires_python)
        if full is None:
            continue
        for family, machine, *_rest in PLATFORMS:
            target = target_for(minor, family, machine, full, python_range=True)
            if (family, machine) in NON_DEFAULT_PLATFORMS:
                if not any(_asks_for_machine(m, target) for m in markers):
                    continue
            elif markers and not any(m.evaluate(dict(target.markers)) for m in markers):
                continue
            targets.append(target)
    if not targets:
        raise ManifestError(
            "No target environment is left: requires-python and [tool.shipyard] environments "
            "exclude every supported Python version and platform.",
            context="pyproject.toml",
            hint=f"Allow at least one of Python "
            f"{', '.join(f'{a}.{b}' for a, b in KNOWN_PYTHON_MINORS)}.",
        )
    return tuple(targets)


def _asks_for_machine(marker: Marker, target: TargetEnvironment) -> bool:
    """Whether ``marker`` holds for ``target`` *because of* its ``platform_machine``: it
    holds there and fails with the machine left blank (``platform_machine == 'armv7l'``
    does; ``sys_platform == 'linux'`` holds for any machine, so it does not)."""
    environment = dict(target.markers)
    if not marker.evaluate(environment):
        return False
    environment["platform_machine"] = ""
    return not marker.evaluate(environment)


def patch_boundaries(
    targets: Sequence[TargetEnvironment], specifier: SpecifierSet
) -> dict[tuple[int, int], set[int]]:
    """Where a Python specifier changes its answer *inside* a range target.

    A target with ``python_range`` stands for the patch releases of its minor from its
    ``python_full_version`` to the next target of that minor. When ``specifier`` (a
    ``Requires-Python``) is not the same for all of them (``!=3.9.0,!=3.9.1`` on a
    target from 3.9.0), the target must be split: this returns, per minor, the patch
    numbers where new targets must start (``{(3, 9): {2}}``); empty when none.

    Only a clause naming a patch release (``!=3.9.0``, ``>=3.8.1``) can draw such a
    line, at that patch or the next one, so only those points are tested.
    """
    points: dict[tuple[int, int], set[int]] = {}
    for clause in specifier:
        if clause.version.endswith(".*"):
            continue
        try:
            release = Version(clause.version).release
        except InvalidVersion:
            continue
        if len(release) >= 3:
            points.setdefault((release[0], release[1]), set()).update((release[2], release[2] + 1))
    if not points:
        return {}
    starts: dict[tuple[int, int], set[int]] = {}
    for target in targets:
        if target.python_range and target.python in points:
            patch = int(target.markers["python_full_version"].split(".")[2])
            starts.setdefault(target.python, set()).add(patch)
    found: dict[tuple[int, int], set[int]] = {}
    for (major, minor), patches in starts.items():
        ordered = sorted(patches)
        for index, low in enumerate(ordered):
            high = ordered[index + 1] if index + 1 < len(ordered) else _LAST_PATCH + 1
            inside = sorted(p for p in points[(major, minor)] if low < p < high)
            if not inside:
                continue
            answer = specifier.contains(Version(f"{major}.{minor}.{low}"), prereleases=True)
            for patch in inside:
                now = specifier.contains(Version(f"{major}.{minor}.{patch}"), prereleases=True)
                if now != answer:
                    found.setdefault((major, minor), set()).add(patch)
                    answer = now
    return found


def refine_targets(
    targets: Sequence[TargetEnvironment], boundaries: dict[tuple[int, int], set[int]]
) -> tuple[TargetEnvironment, ...]:
    """``targets`` with every range target of a minor in ``boundaries`` split at those
    patch numbers (each new target starts at one), ordered by Python, then platform."""
    result = list(targets)
    for target in targets:
        patches = boundaries.get(target.python)
        if not target.python_range or not patches:
            continue
        low = int(target.markers["python_full_version"].split(".")[2])
        for patch in sorted(patches):
            if patch <= low:
                continue
            full = f"{target.python[0]}.{target.python[1]}.{patch}"
            if any(
                t.markers["python_full_version"] == full
                and (t.platform, t.machine) == (target.platform, target.machine)
                for t in result
            ):
                continue
            result.append(
                target_for(target.python, target.platform, target.machine, full, python_range=True)
            )
    order = {(p[0], p[1]): i for i, p in enumerate(PLATFORMS)}
    result.sort(
        key=lambda t: (
            Version(t.markers["python_full_version"]),
            order.get((t.platform, t.machine), 99),
        )
    )
    return tuple(result)


def wheel_tags_match_target(tags: Iterable[Tag], target: TargetEnvironment) -> bool:
    """Whether any of a wheel's tags can be installed on ``target`` (a CPython target).

    Accepts ``py3``/``py3Y`` pure wheels, ``cp3Y-cp3Y`` for the target's minor,
    ``cp3Z-abi3`` with ``Z <= Y``, and platform tags of the target's family (any
    manylinux/glibc level or ``linux_<machine>``, any macOS version, ``win_amd64``) or
    ``any``: an armv7l target takes ``manylinux_2_X_armv7l``, ``manylinux2014_armv7l``
    and piwheels' ``linux_armv7l``.
    """
    if target.tags is not None:
        return any(str(tag) in target.tags for tag in tags)
    major, minor = target.python
    pattern = _PLATFORM_PATTERNS[(target.platform, target.machine)]
    for tag in tags:
        interpreter, abi, platform = tag.interpreter, tag.abi, tag.platform
        if platform != "any" and not pattern.fullmatch(platform):
            continue
        if abi == "abi3":
            if not interpreter.startswith(f"cp{major}"):
                continue
            rest = interpreter[len(f"cp{major}") :]
            if rest.isascii() and rest.isdigit() and len(rest) < 10 and int(rest) <= minor:
                return True
        elif abi == "none":
            if interpreter in (f"py{major}", f"cp{major}{minor}"):
                return True
            if interpreter.startswith(f"py{major}"):
                rest = interpreter[len(f"py{major}") :]
                if rest.isascii() and rest.isdigit() and len(rest) < 10 and int(rest) <= minor:
                    return True
        elif abi == f"cp{major}{minor}" and interpreter == f"cp{major}{minor}":
            return True
    return False


@lru_cache(maxsize=2048)
def _wheel_tags(filename: str) -> frozenset[Tag] | None:
    """A wheel's tags; a wheel variant's too (PEP 825 draft: a label after the platform
    tag), so variant wheels serve the targets their tags fit."""
    try:
        return parse_wheel_filename(filename)[3]
    except (InvalidWheelFilename, ValueError):
        pass
    from shipyard.specs.variants import parse_variant_wheel_filename

    try:
        return parse_variant_wheel_filename(filename).tags
    except (InvalidWheelFilename, ValueError):
        return None


def wheel_target_mask(filename: str, targets: Sequence[TargetEnvironment]) -> int:
    """Bitmask of the ``targets`` (bit ``i`` for ``targets[i]``) a wheel can serve; 0 if none."""
    tags = _wheel_tags(filename)
    if not tags:
        return 0
    mask = 0
    for index, target in enumerate(targets):
        if wheel_tags_match_target(tags, target):
            mask |= 1 << index
    return mask


def wheel_for_platforms(filename: str, platforms: Iterable[tuple[str, str]]) -> bool:
    """Whether ``filename`` is a wheel built for one of ``platforms`` ((family, machine)
    pairs of :data:`PLATFORMS`): a platform tag of that machine, not ``any``. ``False``
    for sdists, pure wheels and unparsable names."""
    tags = _wheel_tags(filename)
    if not tags:
        return False
    patterns = [_PLATFORM_PATTERNS[p] for p in platforms if p in _PLATFORM_PATTERNS]
    return any(pattern.fullmatch(tag.platform) for tag in tags for pattern in patterns)


def oci_platform_target(text: str) -> tuple[str, str] | None:
    """The (family, machine) of the lock targets of an OCI platform (see
    :data:`OCI_PLATFORMS`): ``linux/arm/v7`` → ``("linux", "armv7l")``. Case is ignored;
    the os defaults to ``linux``, ``x86_64``/``aarch64``/``armv7l`` stand for
    ``amd64``/``arm64``/``arm``, and a missing variant is ``v8`` for arm64 and ``v7``
    for arm (``linux/arm``, ``armv7l``). ``None`` for a platform shipyard does not lock
    for (``linux/arm/v6``, ``linux/s390x``)."""
    parts = text.strip().lower().split("/")
    if len(parts) == 1:
        parts.insert(0, "linux")
    if len(parts) not in (2, 3) or not all(parts):
        return None
    architecture = _OCI_ARCHITECTURES.get(parts[1], parts[1])
    variant = parts[2] if len(parts) == 3 else _OCI_VARIANTS.get(architecture, "")
    key = "/".join(p for p in (parts[0], architecture, variant) if p)
    return OCI_PLATFORMS.get(key)


def target_from_interpreter(interpreter: Interpreter) -> TargetEnvironment:
    """The exact target of one interpreter: its own markers and wheel tags."""
    markers = dict(interpreter.markers)
    return TargetEnvironment(
        name=f"{interpreter.implementation}-{interpreter.version}-{interpreter.platform}",
        markers=markers,
        platform=markers.get("sys_platform", ""),
        machine=markers.get("platform_machine", ""),
        python=interpreter.version_tuple[:2],
        tags=frozenset(interpreter.tags),
    )


def python_version_of(target: TargetEnvironment) -> Version:
    """The target's ``python_full_version`` as a :class:`Version`."""
    return Version(target.markers["python_full_version"])
