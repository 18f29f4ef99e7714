"""Reading user ``.npy``/``.npz`` files defensively.

``np.load`` trusts a file's header: a damaged header raises ``SyntaxError`` or ``TokenError``, a
header claiming 10^12 elements asks for terabytes (``MemoryError``) before noticing the data is
not there.  :func:`read_npz` and :func:`read_npy_bytes` check the header against the bytes really
present first, never unpickle, and end every failure in :class:`ArrayFileError` (a
``ValueError``) with one line; the format readers (networks, specs, quantized networks, run data,
signals) wrap it in their own error types.
"""
from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from typing import Union

import numpy as np

#: refuse archive members that claim more than this many bytes uncompressed (a zip bomb guard)
MAX_MEMBER_BYTES = 8 << 30


class ArrayFileError(ValueError):
    """A ``.npy``/``.npz`` file that is truncated, damaged or holds objects."""


def read_npy_bytes(data: bytes, what: str, objects: str = "refuse") -> np.ndarray:
    """The array in the bytes of one ``.npy`` file; ``what`` names it in messages.

    ``objects="skip"``: return None for an object array instead of refusing it (the caller's own
    reader gives its message)."""
    buf = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buf)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf)
        else:
            raise ValueError(f"format version {version}")
    except Exception as exc:  # noqa: BLE001 - ValueError, SyntaxError, TokenError, ...: a damaged header
        raise ArrayFileError(f"{what}: not a readable .npy array (damaged header: {type(exc).__name__})") from None
    if dtype.hasobject:
        if objects == "skip":
            return None
        raise ArrayFileError(f"{what} holds Python objects (dtype object); expected plain numbers")
    need = math.prod(shape) * dtype.itemsize
    have = len(data) - buf.tell()
    if need > have:
        raise ArrayFileError(f"{what}: truncated .npy array (header says shape {shape}, {need} bytes; "
                             f"{have} present)")
    try:
        return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise ArrayFileError(f"{what}: not a readable .npy array ({type(exc).__name__})") from None


def _members(zf: zipfile.ZipFile, p: Path):
    """(key, bytes) of every member of an open ``.npz`` archive, each size-checked and read."""
    for info in zf.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if info.file_size > MAX_MEMBER_BYTES:
            raise ArrayFileError(f"{p}: entry {key!r} claims {info.file_size} bytes")
        try:
            data = zf.read(info)
        except Exception as exc:  # noqa: BLE001 - BadZipFile, zlib.error, EOFError, NotImplementedError
            raise ArrayFileError(f"{p}: entry {key!r} is damaged ({type(exc).__name__})") from None
        yield key, data


def read_npz(path: Union[str, Path]) -> dict[str, np.ndarray]:
    """Every entry of an ``.npz`` archive, checked (see the module docstring).

    Raises
    ------
    ArrayFileError
        not a zip archive, a damaged member, an object array, or a header larger than its data.
    """
    p = Path(path)
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ArrayFileError(f"{p}: not an .npz archive ({type(exc).__name__})") from None
    with zf:
        return {key: read_npy_bytes(data, f"{p}: entry {key!r}") for key, data in _members(zf, p)}


def read_npy(path: Union[str, Path]) -> np.ndarray:
    """The array of a ``.npy`` file, checked like :func:`read_npz`'s entries."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ArrayFileError(f"{p}: cannot be read ({exc.strerror})") from None
    return read_npy_bytes(data, str(p.name))


def check_npz(path: Union[str, Path], error: type = ArrayFileError) -> None:
    """Refuse an ``.npz`` whose members have damaged headers or less data than their headers
    claim (before ``np.load`` trusts them).  Not a zip archive, or object arrays: left to the
    caller's own reader and its messages.  The refusal is raised as ``error`` (the caller's
    own user-error type), with the same one-line message."""
    p = Path(path)
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return
    try:
        with zf:
            for key, data in _members(zf, p):
                read_npy_bytes(data, f"{p}: entry {key!r}", objects="skip")
    except ArrayFileError as exc:
        if error is ArrayFileError:
            raise
        raise error(str(exc)) from None


def check_npy(path: Union[str, Path]) -> None:
    """:func:`check_npz` for a single ``.npy`` file (no .npy magic: left to the caller)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError:
        return
    if data.startswith(b"\x93NUMPY"):
        read_npy_bytes(data, p.name, objects="skip")


__all__ = ["ArrayFileError", "check_npy", "check_npz", "read_npy", "read_npy_bytes", "read_npz"]
