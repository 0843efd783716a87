"""An apical file's checksum, checked before h5py reads a byte of it (docs/file-format.md).

apical writes every results file and checkpoint with a SHA-256 of itself in HDF5's user
block (the first 512 bytes, which HDF5 skips): one line "apical-sha256 HEX SIZE\\n", then
zeros. It covers every byte after the block: HDF5's own metadata, every attribute and
every dataset. A damaged file raises DamagedFileError naming it and what failed; a file
written before format 3 (no block) is read with a warning, unverified.
"""

import hashlib
import os
import re
import warnings

BLOCK = 512
_HDF5 = b"\x89HDF\r\n\x1a\n"
_LINE = re.compile(rb"apical-sha256 ([0-9a-f]{64}) ([0-9]{1,19})\n")


class DamagedFileError(ValueError):
    """A results file or checkpoint that is not as apical wrote it."""


def check(path):
    """Raises DamagedFileError unless path is as apical wrote it (see the module's text)."""
    with open(path, "rb") as f:
        head = f.read(BLOCK)
        size = os.fstat(f.fileno()).st_size
        if head[:8] == _HDF5:
            warnings.warn(f"{path}: carries no checksum (written by an apical before file "
                          "format 3, or not by apical): read unverified", stacklevel=3)
            return
        m = _LINE.match(head)
        if len(head) < BLOCK or not m:
            if len(head) < BLOCK:
                what = f"damaged or not an apical file ({size} bytes)"
            elif head.startswith(b"apical-sha256 "):
                what = "damaged: its checksum header (the first 512 bytes) is malformed"
            else:
                what = "damaged or not an apical file: its checksum header is unreadable"
            raise DamagedFileError(f"{path}: {what}")
        if any(head[m.end():]):
            raise DamagedFileError(f"{path}: damaged: its checksum header (the first 512 bytes) "
                                   "is malformed")
        written = int(m.group(2))
        if written != size:
            raise DamagedFileError(
                f"{path}: damaged: {size} bytes, it was written with {written} "
                f"({'truncated' if size < written else 'bytes appended'})")
        h = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != m.group(1).decode():
        raise DamagedFileError(f"{path}: damaged: its SHA-256 checksum does not match its "
                               "contents (the file changed after apical wrote it)")
