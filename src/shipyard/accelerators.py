"""Accelerators: what an index's builds need (``cpu``, ``cuda>=12.4``, ``rocm>=6.2``),
what this machine has, and which variant of a lock it gets.

Detection needs no network and runs nothing heavy:

* CUDA: the driver's version, as conda's ``__cuda`` virtual package reports it —
  ``CONDA_OVERRIDE_CUDA`` when set (conda's own override; empty means "no CUDA"),
  else ``cuDriverGetVersion`` from ``libcuda`` (loaded with ``ctypes``; it needs no
  ``cuInit`` and no GPU context);
* ROCm: ``$ROCM_PATH/.info/version`` (default ``/opt/rocm``);
* ``SHIPYARD_ACCELERATOR`` (``cpu``, ``cuda12.4``, ``rocm6.2``) or ``--accelerator``
  replace detection altogether.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.errors import ManifestError, UsageError

if TYPE_CHECKING:
    from packaging.version import Version

__all__ = [
    "AcceleratorSpec",
    "HostAccelerator",
    "choose_locked_variant",
    "choose_variant",
    "detect_host",
    "parse_host",
]

_SPEC = re.compile(r"^\s*(?P<kind>cpu|cuda|rocm)\s*(?P<specifier>(?:[<>=!~].*)?)$", re.I)
_HOST = re.compile(r"^\s*(?P<kind>cpu|cuda|rocm)\s*(?P<version>\d+(?:\.\d+)*)?\s*$", re.I)


@dataclass(frozen=True, slots=True)
class AcceleratorSpec:
    """What an index's builds need: ``kind`` (``cpu``, ``cuda``, ``rocm``) and a PEP 440
    ``specifier`` on the driver's (runtime's) version.

    :param text: as written (``"cuda>=12.4"``).
    """

    kind: str
    specifier: str
    text: str

    @classmethod
    def parse(cls, text: str, *, where: str = "the index") -> AcceleratorSpec:
        """Parse ``cpu``, ``cuda>=12.4``, ``cuda==12.*``, ``rocm>=6.2``.

        :raises ManifestError: naming ``where`` for anything else.
        """
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        found = _SPEC.match(text)
        hint = 'Write accelerator = "cpu", "cuda>=12.4" or "rocm>=6.2".'
        if found is None:
            raise ManifestError(f"{where}: invalid accelerator {text!r}.", hint=hint)
        kind, specifier = found.group("kind").lower(), found.group("specifier").strip()
        if kind == "cpu" and specifier:
            raise ManifestError(f"{where}: cpu takes no version ({text!r}).", hint=hint)
        try:
            SpecifierSet(specifier)
        except InvalidSpecifier as exc:
            raise ManifestError(
                f"{where}: invalid accelerator version {specifier!r}: {exc}.", hint=hint
            ) from exc
        return cls(kind=kind, specifier=specifier, text=text.strip())

    @property
    def key(self) -> str:
        """A short name of the variant: ``cpu``, ``cuda12.4`` (the lowest version the
        specifier names), ``rocm6.2``; ``cuda`` when it names none."""
        numbers = re.findall(r"\d+(?:\.\d+)*", self.specifier)
        return f"{self.kind}{numbers[0]}" if numbers else self.kind

    def matches(self, host: HostAccelerator) -> bool:
        """Whether a machine with ``host`` can run these builds."""
        from packaging.specifiers import SpecifierSet

        if self.kind == "cpu":
            return True
        version = host.cuda if self.kind == "cuda" else host.rocm
        return version is not None and SpecifierSet(self.specifier).contains(
            version, prereleases=True
        )

    def floor(self) -> tuple[int, ...]:
        """The lowest version the specifier names, for preferring the newest build a
        machine can run (``()`` for cpu)."""
        numbers = re.findall(r"\d+(?:\.\d+)*", self.specifier)
        return tuple(int(n) for n in numbers[0].split(".")) if numbers else ()


@dataclass(frozen=True, slots=True)
class HostAccelerator:
    """What this machine has: the CUDA driver's and the ROCm runtime's versions
    (``None``: absent), and how that was found (for ``-v`` and ``--dry-run``)."""

    cuda: Version | None
    rocm: Version | None
    source: str

    def describe(self) -> str:
        """``"CUDA 12.4 (libcuda)"``, ``"no GPU (…)"``."""
        found = [f"CUDA {self.cuda}" if self.cuda else "", f"ROCm {self.rocm}" if self.rocm else ""]
        text = ", ".join(f for f in found if f) or "no CUDA or ROCm"
        return f"{text} ({self.source})"


def parse_host(text: str, *, where: str = "SHIPYARD_ACCELERATOR") -> HostAccelerator:
    """An override (``cpu``, ``cuda12.4``, ``cuda 12``, ``rocm6.2``) as the machine it
    describes.

    :raises UsageError: for anything else.
    """
    from packaging.version import Version

    found = _HOST.match(text)
    if found is None or (found.group("kind").lower() != "cpu" and not found.group("version")):
        raise UsageError(
            f"Invalid accelerator {text!r} in {where}.",
            hint="Write cpu, cudaX.Y (the CUDA driver's version, e.g. cuda12.4) or rocmX.Y.",
        )
    kind = found.group("kind").lower()
    version = Version(found.group("version")) if found.group("version") else None
    return HostAccelerator(
        cuda=version if kind == "cuda" else None,
        rocm=version if kind == "rocm" else None,
        source=where,
    )


def _cuda_from_libcuda() -> tuple[Version | None, str]:
    """The CUDA driver version ``libcuda`` reports, without initialising a context."""
    import ctypes

    from packaging.version import Version

    for name in ("libcuda.so.1", "libcuda.so", "libcuda.dylib", "nvcuda.dll"):
        try:
            library = ctypes.CDLL(name)
        except OSError:
            continue
        value = ctypes.c_int(0)
        try:
            status = library.cuDriverGetVersion(ctypes.byref(value))
        except AttributeError:
            continue
        if status == 0 and value.value > 0:
            return Version(f"{value.value // 1000}.{(value.value % 1000) // 10}"), "libcuda"
    return None, "no libcuda"


def _rocm(environ: Mapping[str, str]) -> Version | None:
    from packaging.version import InvalidVersion, Version

    root = environ.get("ROCM_PATH") or "/opt/rocm"
    try:
        with open(os.path.join(root, ".info", "version"), encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return None
    found = re.match(r"\s*(\d+(?:\.\d+)*)", text)
    try:
        return Version(found.group(1)) if found else None
    except InvalidVersion:
        return None


def detect_host(
    override: str | None = None, environ: Mapping[str, str] | None = None
) -> HostAccelerator:
    """This machine's accelerators.

    :param override: ``--accelerator`` (else ``SHIPYARD_ACCELERATOR`` is read).
    :raises UsageError: for an invalid override or ``CONDA_OVERRIDE_CUDA``.
    """
    from packaging.version import InvalidVersion, Version

    environ = os.environ if environ is None else environ
    if override:
        return parse_host(override, where="--accelerator")
    from shipyard.settings import from_environment

    from_env = from_environment("accelerator", environ)
    if from_env:
        return parse_host(from_env)
    rocm = _rocm(environ)
    if "CONDA_OVERRIDE_CUDA" in environ:
        text = environ["CONDA_OVERRIDE_CUDA"].strip()
        try:
            cuda = Version(text) if text else None
        except InvalidVersion as exc:
            raise UsageError(
                f"Invalid CONDA_OVERRIDE_CUDA {text!r}.",
                hint="Set it to the CUDA driver version (12.4), or to nothing for no CUDA.",
            ) from exc
        return HostAccelerator(cuda=cuda, rocm=rocm, source="CONDA_OVERRIDE_CUDA")
    cuda, source = _cuda_from_libcuda()
    return HostAccelerator(cuda=cuda, rocm=rocm, source=source)


def choose_variant(
    variants: Sequence[AcceleratorSpec], host: HostAccelerator
) -> tuple[AcceleratorSpec, str]:
    """The variant a machine gets: of those it can run, a GPU build before the CPU one
    and, among GPU builds, the one needing the newest driver (it serves the newest
    hardware); a machine that can run none of them gets the CPU variant (or the first).

    :returns: the variant and why (one sentence, for ``-v`` and ``--dry-run``).
    """
    runnable = [v for v in variants if v.matches(host)]
    gpu = [v for v in runnable if v.kind != "cpu"]
    if gpu:
        best = max(gpu, key=lambda v: (v.kind == "cuda", v.floor()))
        return best, f"{host.describe()} satisfies {best.text}"
    cpu = next((v for v in variants if v.kind == "cpu"), None)
    chosen = cpu or variants[0]
    return chosen, f"{host.describe()}: no GPU variant fits, so {chosen.text}"


def choose_locked_variant(
    variants: Sequence[tuple[str, str, str | None]],
    override: str | None = None,
    *,
    detect: bool = True,
) -> tuple[str, str | None, str]:
    """The variant of a lock this machine gets.

    :param variants: ``(key, accelerator, group)`` as the lock records them
        (:meth:`~shipyard.models.LockFile.accelerator_variants`), the default first.
    :param override: ``--accelerator``.
    :param detect: look at this machine when there is no override; ``False`` (an image
        or a Dockerfile, built for another machine) takes the lock's default variant.
    :returns: ``(key, group, reason)``: the group to select (``None`` for the default
        variant) and one sentence saying why.
    :raises UsageError: for an invalid override; :raises ManifestError: for a lock whose
        accelerators do not parse.
    """
    if override is None and not detect:
        key, text, group = variants[0]
        return key, group, f"the lock's default variant ({text})"
    host = detect_host(override)
    specs = [AcceleratorSpec.parse(text, where="pylock.toml") for _k, text, _g in variants]
    chosen, reason = choose_variant(specs, host)
    key, _text, group = variants[specs.index(chosen)]
    return key, group, reason
