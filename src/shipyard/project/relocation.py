"""Point an unpacked ``shipyard pack`` archive at the directory it now lives in.

A packed environment was built at a long, unique *placeholder prefix* (a directory
of the packer's cache padded with ``_placehold``, as conda-build pads its build
prefix); every file holding that path is listed in the archive's manifest
(``.shipyard-pack/manifest.json``) with its mode, as conda's ``paths.json`` lists
``prefix_placeholder`` files:

* ``text`` files (no NUL byte) get every occurrence replaced. A script's ``#!`` line
  is written again as the installer writes it: ``#!<dir>/bin/python``, or, when that
  path is longer than the kernel reads (127 bytes) or has a space, a ``/bin/sh`` line
  that ``exec``\\ s the interpreter (the form Python then reads as a string literal);
* ``binary`` files get each NUL-terminated string that holds the prefix rewritten in
  place and padded with NULs, so offsets and the file's length stay as they were
  (conda's binary prefix replacement). The new prefix may be at most as long as the
  placeholder (:data:`MANIFEST` key ``placeholder_length``).

The manifest then records the new prefix, so the directory can be moved again and
fixed with the same call. An interrupted run is finished by running it again: files
already rewritten no longer hold the old prefix.

This module is copied into every archive as ``.shipyard-pack/relocate.py`` and run
by ``unpack.sh`` with the environment's own interpreter, which may be any CPython
from 3.8 on: it imports only the standard library and must stay that way.
``shipyard unpack`` imports it instead.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from typing import Any

__all__ = ["FORMAT", "MANIFEST", "RelocationError", "read_manifest", "relocate", "shebang"]

#: The manifest's path inside an archive (and inside the unpacked directory).
MANIFEST = ".shipyard-pack/manifest.json"
#: The manifest's format version this module reads and writes.
FORMAT = 1
#: The longest ``#!`` line Linux reads (bytes, ``#!`` included).
_SHEBANG_LIMIT = 127
_SH_HEAD = b"#!/bin/sh\n"
_SH_EXEC = b"'''exec' "
_SH_ARGS = b' "$0" "$@"'
_SH_TAIL = b"' '''"


class RelocationError(Exception):
    """The directory cannot be relocated: no or a foreign manifest, a new path too long
    for a binary file's room, or a binary string without the padding it needs."""


def read_manifest(root: str) -> dict[str, Any]:
    """The manifest of the unpacked environment at ``root``.

    :raises RelocationError: when it is missing, unreadable or of another format.
    """
    path = os.path.join(root, MANIFEST)
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        raise RelocationError(
            f"{root} holds no {MANIFEST}: it is not a packed environment"
        ) from None
    except (OSError, ValueError) as exc:
        raise RelocationError(f"{path} cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise RelocationError(
            f"{path} is not a format-{FORMAT} manifest of shipyard pack; "
            "unpack it with the shipyard version that packed it"
        )
    return manifest


def shebang(python: str) -> bytes:
    """``#!<python>``, or the ``/bin/sh`` exec header when Linux could not run that line
    (longer than 127 bytes, or a space in the path); the same header shipyard's
    installer writes."""
    executable = os.fsencode(python)
    if b" " not in executable and len(executable) + 2 <= _SHEBANG_LIMIT:
        return b"#!" + executable
    return _SH_HEAD + _SH_EXEC + shlex.quote(python).encode() + _SH_ARGS + b"\n" + _SH_TAIL


def relocate(root: str, new_prefix: str | None = None) -> int:
    """Rewrite the files the manifest lists from its ``prefix`` to ``new_prefix``.

    :param root: the unpacked directory on disk.
    :param new_prefix: the absolute path the environment will be used at; default
        ``root`` itself (``shipyard unpack`` unpacks beside the target and renames).
    :returns: how many files were rewritten (0 when the prefix is already right).
    :raises RelocationError: see the class; nothing is written when the new path is
        too long for a binary file.
    :raises OSError: when a file cannot be read or written.
    """
    manifest = read_manifest(root)
    old = str(manifest["prefix"])
    new = os.path.abspath(new_prefix if new_prefix is not None else root)
    if new == old:
        return 0
    entries = [e for e in manifest.get("files", []) if isinstance(e, dict)]
    limit = int(manifest.get("placeholder_length", len(old)))
    old_b, new_b = os.fsencode(old), os.fsencode(new)
    if len(new_b) > limit and any(e.get("mode") == "binary" for e in entries):
        raise RelocationError(
            f"{new} is {len(new_b)} bytes long; binary files of this environment have room "
            f"for a path of at most {limit} bytes: unpack it at a shorter path"
        )
    changed = 0
    for entry in entries:
        relative = str(entry["path"])
        if os.path.isabs(relative) or ".." in relative.split("/"):
            raise RelocationError(f"the manifest names a path outside the directory: {relative}")
        path = os.path.join(root, *relative.split("/"))
        with open(path, "rb") as handle:
            data = handle.read()
        if entry.get("mode") == "binary":
            fixed = _replace_binary(data, old_b, new_b, relative)
        else:
            fixed = _replace_text(data, old_b, new_b)
        if fixed != data:
            _write(path, fixed)
            changed += 1
    manifest["prefix"] = new
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    _write(os.path.join(root, MANIFEST), text.encode("utf-8"))
    return changed


def _replace_text(data: bytes, old: bytes, new: bytes) -> bytes:
    """Every ``old`` replaced by ``new``; a ``#!`` header naming an interpreter under
    ``old`` written again for its new path."""
    if data.startswith(b"#!"):
        data = _fix_shebang(data, old, new)
    return data.replace(old, new)


def _fix_shebang(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with its header rebuilt by :func:`shebang` when the header runs an
    interpreter under ``old``; else unchanged (plain replacement then does the rest)."""
    first, _, rest = data.partition(b"\n")
    if first == _SH_HEAD.rstrip(b"\n") and rest.startswith(_SH_EXEC):
        line, _, after = rest.partition(b"\n")
        if not (line.endswith(_SH_ARGS) and after.startswith(_SH_TAIL)):
            return data
        try:
            words = shlex.split(os.fsdecode(line[len(_SH_EXEC) : -len(_SH_ARGS)]))
        except ValueError:
            return data
        if len(words) != 1:
            return data
        python = os.fsencode(words[0])
        body = after[len(_SH_TAIL) :]
    else:
        python = first[2:]
        if b" " in python.strip():
            return data  # arguments after the interpreter: leave it to plain replacement
        python = python.strip()
        body = data[len(first) :]
    if not python.startswith(old + b"/"):
        return data
    moved = new + python[len(old) :]
    return shebang(os.fsdecode(moved)) + body


def _replace_binary(data: bytes, old: bytes, new: bytes, name: str) -> bytes:
    """Each NUL-terminated string holding ``old`` rewritten with ``new`` in the same
    bytes: a shorter result is padded with NULs, a longer one takes NULs that follow
    (the room the placeholder left).

    :raises RelocationError: when a longer string would overwrite something not NUL.
    """
    out = bytearray(data)
    position = 0
    while True:
        start = data.find(old, position)
        if start < 0:
            return bytes(out)
        end = data.find(b"\0", start)
        if end < 0:
            end = len(data)
        string = data[start:end]
        replaced = string.replace(old, new)
        grow = len(replaced) - len(string)
        if grow <= 0:
            out[start:end] = replaced + b"\0" * -grow
            position = end
            continue
        room = data[end : end + grow + 1]
        if room != b"\0" * (grow + 1):
            raise RelocationError(
                f"{name}: no room to write the longer path at byte {start}; unpack the "
                "environment at a path no longer than the one it was packed at"
            )
        out[start : end + grow] = replaced
        position = end + grow


def _write(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, keeping its permission bits."""
    mode = os.stat(path).st_mode & 0o7777
    directory = os.path.dirname(path) or "."
    descriptor, temporary = tempfile.mkstemp(prefix=".relocate-", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _main(argv: list[str]) -> int:
    """``python relocate.py [DIR]``: what ``unpack.sh`` runs (DIR defaults to the
    directory above this file). The only place this module writes to a terminal: it runs
    as a script in the unpacked environment, where shipyard's CLI is not."""
    root = os.path.abspath(argv[0] if argv else os.path.dirname(os.path.dirname(__file__)))
    try:
        count = relocate(root)
    except (RelocationError, OSError) as exc:
        sys.stderr.write(f"unpack.sh: cannot relocate {root}: {exc}\n")
        return 1
    sys.stdout.write(f"Relocated the environment to {root} ({count} files rewritten).\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
