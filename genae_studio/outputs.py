"""Grids and arrays written a batch at a time, so memory stays bounded for any --n.

``GridWriter`` collects images cell by cell into a scratch file laid out by pixel row, then
streams the PNG one scanline at a time (Pillow can only encode a whole image held in
memory). ``NpzWriter`` collects arrays in scratch files and streams them into the .npz
entries. Both commit their output atomically (genae_studio.fileio); the scratch files live
in a hidden folder beside the output (genae_studio.scratch), removed whatever happens: on
Ctrl-C, SIGTERM and SIGHUP by this process, after a kill -9 by the next one.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .fileio import OutputError, atomic_file
from .scratch import Scratch

PAD = 2  # pixels between cells, as imaging.grid
PAD_VALUE = 255


def _scratch(path: Path) -> Scratch:
    """A locked scratch folder beside ``path`` (genae_studio.scratch: removed when closed,
    or by a later run if this process is killed)."""
    return Scratch(path)


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


class GridWriter:
    """A (rows x cols) grid of (C, H, W) images in [0, 1] or uint8 as a PNG: the picture of
    ``imaging.grid`` (the same ``imaging.GridLayout``: ``columns`` wraps a row, ``row_labels``
    label them), filled a batch at a time with ``put(row, col, images)``.
    """

    def __init__(self, path: Path, rows: int, cols: int, channels: int, size: int, *,
                 columns: int | None = None, row_labels=None):
        from .imaging import GridLayout, LabelMargin

        self.layout = GridLayout(rows, cols, columns, PAD)
        self.path, self.channels, self.size = Path(path), channels, size
        self.rows = rows * self.layout.lines  # the picture's lines of cells
        self.cols = self.layout.per_line
        self.margin = None
        if row_labels is not None:  # stores only its labels: memory does not grow with rows
            if len(row_labels) != rows:
                raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
            self.margin = LabelMargin(self.layout.shape(size, size)[0], channels, row_labels,
                                      self.layout.tops(size), size, PAD_VALUE)
        self.scratch = _scratch(self.path)
        self.fds = []
        try:
            for r in range(self.rows):
                fd = os.open(self.scratch / f"row{r}", os.O_RDWR | os.O_CREAT, 0o600)
                self.fds.append(fd)
        except OSError as exc:
            self.close()
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self.line = self.cols * size * channels  # bytes of one pixel row of a line's images
        self.filled = np.zeros((self.rows, self.cols), bool)  # cells never put stay white

    def put(self, row: int, col: int, images) -> None:
        """Images (k, C, H, W) for cells (row, col) .. (row, col + k - 1) of the layout (a
        row wraps onto its next lines after ``columns`` cells)."""
        from .imaging import to_uint8

        images = to_uint8(images)
        for line, first_col, first, stop in self.layout.runs(row, col, len(images)):
            self._put_line(line, first_col, images[first:stop])

    def _put_line(self, line: int, col: int, images: np.ndarray) -> None:
        rows_of = np.ascontiguousarray(images.transpose(2, 0, 3, 1))  # (H, k, W, C)
        try:
            for y in range(self.size):
                _pwrite_all(self.fds[line], rows_of[y].tobytes(),
                            y * self.line + col * self.size * self.channels)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self.filled[line, col:col + len(images)] = True

    def _scanlines(self):
        c, size, pad = self.channels, self.size, PAD
        total = (self.cols * (size + pad) + pad) * c
        blank = bytes([PAD_VALUE]) * total  # a padding line
        y_out = 0

        def left() -> bytes:  # filter byte 0, then this scanline's part of the margin
            nonlocal y_out
            y_out += 1
            return b"\0" + (b"" if self.margin is None else self.margin[y_out - 1].tobytes())

        for _ in range(pad):
            yield left() + blank
        line = np.full((self.cols, size + pad, c), PAD_VALUE, np.uint8)
        for r in range(self.rows):
            for y in range(size):
                data = os.pread(self.fds[r], self.line, y * self.line)
                if len(data) < self.line:  # the file ends at the last cell put
                    data = data + bytes(self.line - len(data))
                line[:, :size] = np.frombuffer(data, np.uint8).reshape(self.cols, size, c)
                line[~self.filled[r], :size] = PAD_VALUE
                yield left() + bytes([PAD_VALUE]) * (pad * c) + line.tobytes()
            for _ in range(pad):
                yield left() + blank

    def finish(self) -> Path:
        """Write the PNG (atomically) and remove the scratch files."""
        width = self.cols * (self.size + PAD) + PAD
        height = self.rows * (self.size + PAD) + PAD
        if self.margin is not None:
            if self.margin.shape[0] != height or self.margin.shape[2] != self.channels:
                raise ValueError(f"margin of shape {self.margin.shape} for a {height}-pixel "
                                 f"grid of {self.channels} channels")
            width += self.margin.shape[1]
        color = 0 if self.channels == 1 else 2  # greyscale or RGB, 8 bits
        try:
            with atomic_file(self.path) as f:
                f.write(b"\x89PNG\r\n\x1a\n")
                _chunk(f, b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0))
                packer = zlib.compressobj(6)
                pending = []
                size = 0
                for scan in self._scanlines():
                    pending.append(packer.compress(scan))
                    size += len(pending[-1])
                    if size > 1 << 20:
                        _chunk(f, b"IDAT", b"".join(pending))
                        pending, size = [], 0
                pending.append(packer.flush())
                _chunk(f, b"IDAT", b"".join(pending))
                _chunk(f, b"IEND", b"")
        finally:
            self.close()
        return self.path

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.scratch.close()


def _chunk(f, kind: bytes, data: bytes) -> None:
    f.write(struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


class NpzWriter:
    """An .npz of arrays appended a chunk at a time, like ``np.savez_compressed``.

    ``declare(name, shape, dtype, parts=1)``: the array is the concatenation of ``parts``
    parts (e.g. one per chain step), each filled in order by ``append(name, chunk, part)``.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.scratch = _scratch(self.path)
        self.arrays: dict[str, tuple] = {}

    def declare(self, name: str, shape: tuple, dtype, parts: int = 1) -> None:
        self.arrays[name] = (tuple(int(s) for s in shape), np.dtype(dtype), parts)

    def append(self, name: str, chunk, part: int = 0) -> None:
        _, dtype, _ = self.arrays[name]
        data = np.ascontiguousarray(np.asarray(chunk, dtype=dtype))
        try:
            with open(self.scratch / f"{name}.{part}", "ab") as f:
                f.write(data.tobytes())
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def finish(self) -> Path:
        import zipfile

        try:
            with atomic_file(self.path) as f, \
                    zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, (shape, dtype, parts) in self.arrays.items():
                    expected = int(np.prod(shape)) * dtype.itemsize
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as entry:
                        np.lib.format.write_array_header_1_0(
                            entry, {"descr": np.lib.format.dtype_to_descr(dtype),
                                    "fortran_order": False, "shape": shape})
                        written = 0
                        for part in range(parts):
                            scratch = self.scratch / f"{name}.{part}"
                            if scratch.exists():
                                with open(scratch, "rb") as src:
                                    while block := src.read(1 << 22):
                                        entry.write(block)
                                        written += len(block)
                        if written != expected:
                            raise ValueError(f"{name}: {written} bytes for shape {shape}")
        finally:
            self.scratch.close()
        return self.path

    def close(self) -> None:
        self.scratch.close()
