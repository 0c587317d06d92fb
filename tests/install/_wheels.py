"""Build small but complete wheels for the install tests (PEP 427), with zipfile alone.

Kept beside the install tests on purpose: they need control over details a general
builder hides (executable bits, a RECORD that lies, hostile member names).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import stat
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = ["DEMO_ENTRY_POINTS", "build_wheel", "demo_wheel", "record_row"]


def record_row(path: str, data: bytes) -> tuple[str, str, str]:
    """A RECORD row with the sha256 and size of ``data``."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return (path, f"sha256={digest}", str(len(data)))


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes | str],
    *,
    entry_points: str | None = None,
    root_is_purelib: bool = True,
    executable: Iterable[str] = (),
    record_overrides: Mapping[str, tuple[str, str, str] | None] | None = None,
    extra_members: Iterable[tuple[zipfile.ZipInfo, bytes]] = (),
    tag: str = "py3-none-any",
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` into ``directory`` and return its path.

    :param files: archive path → content, for everything outside ``.dist-info``.
    :param executable: archive paths stored with mode ``0o755`` (regular file bits set).
    :param record_overrides: archive path → RECORD row to write instead (``None`` drops
        the row), to make RECORD disagree with the archive.
    :param extra_members: raw members appended after the RECORD (not listed in it).
    """
    dist = re.sub(r"[-_.]+", "_", name)  # the escaped name of wheel file names
    dist_info = f"{dist}-{version}.dist-info"
    contents: dict[str, bytes] = {
        path: data.encode() if isinstance(data, str) else data for path, data in files.items()
    }
    contents[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test\n\n"
    ).encode()
    contents[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: shipyard-tests\n"
        f"Root-Is-Purelib: {'true' if root_is_purelib else 'false'}\nTag: {tag}\n"
    ).encode()
    if entry_points is not None:
        contents[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    rows = [record_row(path, data) for path, data in contents.items()]
    overrides = dict(record_overrides or {})
    replaced = [overrides.get(row[0], row) for row in rows]
    rows = [row for row in replaced if row is not None]
    rows.append((f"{dist_info}/RECORD", "", ""))
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    contents[f"{dist_info}/RECORD"] = buffer.getvalue().encode()

    path = directory / f"{dist}-{version}-{tag}.whl"
    exec_set = set(executable)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, data in contents.items():
            info = zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0))
            mode = 0o755 if member in exec_set else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
        for info, data in extra_members:
            archive.writestr(info, data)
    return path


DEMO_ENTRY_POINTS = """\
[console_scripts]
demo-cli = demo_pkg.cli:main
demo-nested = demo_pkg.cli:Runner.run

[gui_scripts]
demo-gui = demo_pkg.cli:gui

[demo.plugins]
ignored = demo_pkg:VALUE
"""

DEMO_FILES: dict[str, str] = {
    "demo_pkg/__init__.py": "VALUE = 42\n",
    "demo_pkg/cli.py": (
        "import os\n"
        "import sys\n"
        "\n"
        "def main():\n"
        "    print('demo-cli', os.path.basename(sys.argv[0]), sys.argv[1:])\n"
        "    return 0\n"
        "\n"
        "class Runner:\n"
        "    @staticmethod\n"
        "    def run():\n"
        "        print('demo-nested')\n"
        "        return 3\n"
        "\n"
        "def gui():\n"
        "    print('demo-gui')\n"
    ),
    "demo_pkg/sub/__init__.py": "",
    "demo_pkg/sub/mod.py": "NAME = 'mod'\n",
    "demo_pkg/data/table.csv": "a,b\n1,2\n",
    "demo_top.py": "TOP = True\n",
    "demo_pkg-1.0.data/purelib/demo_extra.py": "EXTRA = 1\n",
    "demo_pkg-1.0.data/scripts/demo-tool": (
        "#!python\nimport demo_pkg\nprint('demo-tool', demo_pkg.VALUE)\n"
    ),
    "demo_pkg-1.0.data/scripts/demo-plain": "#!/bin/sh\necho demo-plain\n",
    "demo_pkg-1.0.data/data/share/demo_pkg/readme.txt": "shared data\n",
    "demo_pkg-1.0.data/headers/demo.h": "#define DEMO 1\n",
}


def demo_wheel(directory: Path) -> Path:
    """The demo wheel: packages, a top-level module, ``.data`` scripts (one ``#!python``),
    purelib, data and headers files, console and GUI entry points."""
    return build_wheel(
        directory,
        "demo_pkg",
        "1.0",
        DEMO_FILES,
        entry_points=DEMO_ENTRY_POINTS,
        executable=["demo_pkg-1.0.data/scripts/demo-tool", "demo_pkg-1.0.data/scripts/demo-plain"],
    )
