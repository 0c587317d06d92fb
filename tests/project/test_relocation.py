"""Relocating an unpacked environment (``shipyard.project.relocation``, the script every
packed archive carries): text files, ``#!`` lines in both forms, NUL-padded binary
strings, and the limits that keep a binary file intact."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from shipyard.project.relocation import MANIFEST, RelocationError, relocate

OLD = "/scratch/pack/_shipyard_pack" + "_placehold" * 15  # 164 characters


def _packed(root: Path, files: dict[str, tuple[bytes, str]], *, limit: int = len(OLD)) -> Path:
    """A directory as unpacked from an archive: ``files`` (path → bytes, mode) and the
    manifest listing them with the placeholder prefix :data:`OLD`."""
    for relative, (data, _mode) in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    manifest = {
        "format": 1,
        "prefix": OLD,
        "placeholder_length": limit,
        "files": [{"path": p, "mode": m} for p, (_d, m) in sorted(files.items())],
    }
    (root / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    (root / MANIFEST).write_text(json.dumps(manifest))
    return root


def test_text_files_and_both_shebang_forms_follow_the_directory(tmp_path: Path) -> None:
    long_header = (
        b"#!/bin/sh\n'''exec' " + f"{OLD}/bin/python".encode() + b' "$0" "$@"\n' + b"' '''"
    )
    script = long_header + b"\nimport sys\nprint(sys.argv[0], 'ok')\n"
    root = _packed(
        tmp_path / "env",
        {
            "bin/tool": (script, "text"),
            "bin/short": (f"#!{OLD}/bin/python\nprint('x')\n".encode(), "text"),
            "pyvenv.cfg": (f"home = {OLD}/base-python/bin\n".encode(), "text"),
        },
    )
    (root / "bin" / "tool").chmod(0o755)
    assert relocate(str(root)) == 3
    assert (root / "bin" / "tool").read_bytes().startswith(f"#!{root}/bin/python\n".encode())
    assert (root / "bin" / "tool").stat().st_mode & 0o777 == 0o755  # mode kept
    assert (root / "bin" / "short").read_text() == f"#!{root}/bin/python\nprint('x')\n"
    assert (root / "pyvenv.cfg").read_text() == f"home = {root}/base-python/bin\n"
    assert json.loads((root / MANIFEST).read_text())["prefix"] == str(root)
    assert relocate(str(root)) == 0  # already right: nothing rewritten

    # Moved to a path with a space, the header becomes the /bin/sh form again, and sh
    # runs it (Python reads the second line as a string).
    spaced = tmp_path / "with space" / "env"
    spaced.parent.mkdir()
    root.rename(spaced)
    assert relocate(str(spaced)) == 3
    text = (spaced / "bin" / "tool").read_text()
    assert text.startswith(f"#!/bin/sh\n'''exec' '{spaced}/bin/python' \"$0\" \"$@\"\n' '''\n")
    (spaced / "bin" / "python").symlink_to(os.path.realpath("/usr/bin/python3"))
    ran = subprocess.run(
        [str(spaced / "bin" / "tool")], capture_output=True, text=True, env={"PATH": "/bin"}
    )
    assert ran.stdout.strip().endswith(" ok"), ran.stderr


def test_binary_strings_are_rewritten_in_place_and_padded(tmp_path: Path) -> None:
    slot = OLD.encode() + b"/lib:" + OLD.encode() + b"/lib64\0" + b"\0" * 8 + b"next\0"
    data = b"\x7fELF" + slot
    root = _packed(tmp_path / "e", {"lib/libx.so": (data, "binary")})
    relocate(str(root))
    fixed = (root / "lib" / "libx.so").read_bytes()
    assert len(fixed) == len(data)
    string = fixed[4:].split(b"\0", 1)[0]
    assert string == f"{root}/lib:{root}/lib64".encode()
    assert fixed.endswith(b"\0next\0")

    # Back to a longer path (still within the placeholder's length): the padding the
    # first rewrite left makes room.
    longer = tmp_path / ("x" * 30)
    root.rename(longer)
    relocate(str(longer))
    again = (longer / "lib" / "libx.so").read_bytes()
    assert len(again) == len(data) and again.endswith(b"\0next\0")
    assert again[4:].split(b"\0", 1)[0] == f"{longer}/lib:{longer}/lib64".encode()


def test_a_path_longer_than_the_placeholder_is_refused_before_any_write(tmp_path: Path) -> None:
    data = b"\0" + OLD.encode() + b"/share\0"
    root = _packed(
        tmp_path / ("d" * 200),
        {"lib/data.bin": (data, "binary"), "etc/conf": (OLD.encode(), "text")},
    )
    with pytest.raises(RelocationError, match="at most"):
        relocate(str(root))
    assert (root / "lib" / "data.bin").read_bytes() == data
    assert (root / "etc" / "conf").read_bytes() == OLD.encode()


def test_a_binary_string_without_room_is_an_error(tmp_path: Path) -> None:
    # Claimed placeholder length larger than the room really left: no NULs to grow into.
    data = b"\0" + OLD.encode() + b"\0XYZ"
    root = _packed(tmp_path / ("d" * 120), {"lib/data.bin": (data, "binary")}, limit=255)
    with pytest.raises(RelocationError, match="no room"):
        relocate(str(root))


def test_a_directory_without_manifest_is_not_relocated(tmp_path: Path) -> None:
    with pytest.raises(RelocationError, match="not a packed environment"):
        relocate(str(tmp_path))
