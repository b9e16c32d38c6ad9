"""Reading an input file safely: a regular file (not a directory, a pipe or a device, so
that reading never blocks), at most a stated size, decoded as UTF-8 with or without a byte
order mark. Every refusal is an ``InputFileError`` that says what was expected.

Owns: ``read_input_bytes``, ``read_input_text`` and ``InputFileError``. Must not: parse
formats or import anything of tsodso.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: largest scenario file read (bytes); a scenario is a few hundred bytes of TOML
MAX_SCENARIO_BYTES = 1 << 20


class InputFileError(ValueError):
    """An input file cannot be read as asked; the message says why and what was expected."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_input_bytes(spec: str | Path, max_bytes: int) -> bytes:
    """The content of the regular file ``spec``, refused (``InputFileError``) when the path
    is empty, missing, not a regular file, unreadable or larger than ``max_bytes``.

    The file is opened without blocking and checked on the open descriptor, so a named
    pipe put in its place between the check and the read is refused too."""
    text = str(spec)
    if not text.strip():
        raise InputFileError("empty path: expected a file name")
    if "\x00" in text:
        raise InputFileError("the path contains a NUL character")
    try:
        fd = os.open(text, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputFileError("no such file") from None
    except IsADirectoryError:
        raise InputFileError("is a directory, expected a file") from None
    except PermissionError:
        raise InputFileError("permission denied") from None
    except OSError as err:
        raise InputFileError(f"cannot open: {err.strerror or err}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputFileError(f"is {_kind(st.st_mode)}, expected a regular file")
        if st.st_size > max_bytes:
            raise InputFileError(f"is {st.st_size:,} bytes, expected at most {max_bytes:,}")
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:  # grew while being read
                raise InputFileError(f"is larger than {max_bytes:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except IsADirectoryError:
        raise InputFileError("is a directory, expected a file") from None
    except OSError as err:
        raise InputFileError(f"cannot read: {err.strerror or err}") from None
    finally:
        os.close(fd)


def read_input_text(spec: str | Path, max_bytes: int) -> str:
    """``read_input_bytes`` decoded as UTF-8 (a leading byte order mark is dropped);
    invalid UTF-8 is refused with the byte offset of the first bad byte."""
    data = read_input_bytes(spec, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputFileError(
            f"not UTF-8 text: byte {err.object[err.start]:#04x} at offset {err.start}"
        ) from None
