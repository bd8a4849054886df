"""``.npz`` archives written without copies of the arrays, and read only after checking every header."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .files import open_regular

# A track of an hour at 60 frames/s with eye and skin patches is a few GB; more is not a track.
MAX_NPZ_BYTES = 16_000_000_000


def write_npz(fh: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``fh`` as ``np.savez`` does (uncompressed), from each array's own buffer.

    ``np.savez`` copies every array into 16 MB byte strings on its way into
    the zip; for a long track that is the largest allocation of the whole
    report writing. Here the data go straight from the arrays to the file.
    ``np.load`` reads the result as it reads ``np.savez``'s.
    """
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
        for name, value in arrays.items():
            array = np.asarray(value, order="C")  # (not ascontiguousarray: it makes 0-d arrays 1-d)
            # force_zip64 as np.savez (numpy gh-10776): the size is not known to zipfile in advance.
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array_header_1_0(member, np.lib.format.header_data_from_array_1_0(array))
                member.write(array.reshape(-1).view(np.uint8))


def _npy_header(zf: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, header bytes)`` of one ``.npy`` member, read without reading its data."""
    with zf.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"{member.filename}: unsupported .npy version {version}")
        shape, _, dtype = readers[version](fh)
        return tuple(shape), dtype, fh.tell()


def _check_array(name: str, shape: tuple[int, ...], dtype: np.dtype, n: int, spec) -> None:
    """Refuse an array whose shape or dtype kind is not ``spec`` for ``n`` frames."""
    trailing, kinds = spec
    want = (n, *trailing)
    if dtype.hasobject or dtype.kind not in kinds or len(shape) != len(want) or any(
            w is not None and s != w for s, w in zip(shape, want)):
        raise ValueError(f"array {name} has shape {shape} and type {dtype}, expected {want} of kind {kinds!r}")


def read_npz_checked(path: Path, required: dict, optional: dict, text: tuple[str, ...], max_text_bytes: int,
                     max_expansion: float) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz``, each checked from its header before any data is read.

    ``required`` and ``optional`` map a name to ``(shape after the frame
    axis, dtype kinds)`` (None in the shape: any length); the first required
    array's length is the frame count every array must share. ``text`` names
    short text arrays of at most ``max_text_bytes``. A file declaring more
    than ``max_expansion`` times its size (a zip bomb) is refused.

    Raises
    ------
    KeyError, ValueError, zipfile.BadZipFile
        What is missing or wrong.
    """
    specs = {**required, **optional}
    with open_regular(path, MAX_NPZ_BYTES, "track") as fh:
        return _read_checked(fh, specs, required, text, max_text_bytes, max_expansion)


def _read_checked(fh: BinaryIO, specs: dict, required: dict, text: tuple[str, ...],
                  max_text_bytes: int, max_expansion: float) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(fh) as zf:
        members = {i.filename[:-4]: i for i in zf.infolist() if i.filename[:-4] in (*specs, *text)}
        missing = [k for k in (*required, *text) if k not in members]
        if missing:
            raise KeyError(f"no {', '.join(missing)} in the file")
        declared, size = sum(m.file_size for m in members.values()), os.fstat(fh.fileno()).st_size
        if declared > max_expansion * size:
            raise ValueError(f"it declares {declared} bytes of data in a file of {size} (a zip bomb?)")
        headers = {k: _npy_header(zf, m) for k, m in members.items()}
    first = headers[next(iter(required))][0]
    n = first[0] if len(first) == 1 else -1
    for name, (shape, dtype, header_bytes) in headers.items():
        if name in text:
            if dtype.kind != "U" or len(shape) > 1 or members[name].file_size > max_text_bytes:
                raise ValueError(f"array {name} is not a short text array")
            continue
        _check_array(name, shape, dtype, n, specs[name])
        if members[name].file_size > header_bytes + int(np.prod(shape)) * dtype.itemsize:
            raise ValueError(f"array {name} declares more data than its shape holds")
    fh.seek(0)
    with np.load(fh, allow_pickle=False) as data:
        return {k: data[k] for k in headers}
