"""``.npz`` archives written without copies of the arrays."""
from __future__ import annotations

import zipfile
from typing import BinaryIO

import numpy as np


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
