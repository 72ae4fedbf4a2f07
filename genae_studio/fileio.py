"""Writing files so that a crash at any instant leaves the old or the new version, complete.

Every output of the project (checkpoints, PNG, GIF, npz, JSON) goes through ``atomic_file``
or ``atomic_write``: the data is written to a hidden temporary file beside the target,
flushed and fsynced, given the permissions a plain ``open()`` would give (0666 minus the
umask), renamed over the target, and the folder is fsynced. On any failure the temporary
file is removed and the previous file is untouched; no empty file is left behind.

Temporary names look like ``.NAME.XXXXXXXX.tmp`` (``cleanup_temporaries`` removes orphans
that a killed process left). All system calls go through this module's ``os`` so that tests
can inject faults into every write, fsync and rename.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import GenaeError

TEMP_SUFFIX = ".tmp"
TEMP_EXTRA = 14  # a temporary name adds ".", "." + 8 random characters and ".tmp" to a name


class OutputError(GenaeError, OSError):
    """An output file could not be written (full disk, no permission...); the old one is kept."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (where folders can be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems refuse fsync on folders
        if exc.errno not in (22, 95):  # EINVAL, EOPNOTSUPP
            raise
    finally:
        os.close(fd)


def write_bytes_durably(path: Path, data: bytes | memoryview) -> None:
    """Create ``path`` (which must not exist) with ``data`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view[:1 << 24])
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileWriter(io.RawIOBase):
    """The binary file object ``atomic_file`` hands out: its writes go through ``os.write``."""

    def __init__(self, fd: int, name: str):
        super().__init__()
        self.fd, self.name = fd, name

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            view = view[os.write(self.fd, view):]
        return total

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return os.lseek(self.fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self.fd, 0, os.SEEK_CUR)

    def truncate(self, size: int | None = None) -> int:
        size = self.tell() if size is None else size
        os.ftruncate(self.fd, size)
        return size

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:  # the fd belongs to atomic_file
        super().close()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """``with atomic_file(path) as f: f.write(...)``: ``path`` appears complete, or not at all.

    OSErrors (a full disk, no permission) become an ``OutputError`` naming the path.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise OutputError(f"{path}: is a folder, not a file name")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    writer = _FileWriter(fd, tmp)
    try:
        try:
            yield writer  # type: ignore[misc]
            os.fsync(fd)
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            writer.close()
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}; "
                              "any previous file there is unchanged") from None
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` (which writes a file at that path), then commit it to ``path``
    as ``atomic_file`` does. Prefer ``atomic_file`` where the writer accepts a file object."""
    path = Path(path)
    with atomic_file(path) as f:
        write(f.name)
        # The writer may have replaced the file at f.name (safetensors' save_file does, with
        # mode 0600): make what is there now durable, with a plain open()'s permissions.
        fd = os.open(f.name, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.fchmod(fd, 0o666 & ~_umask())
        finally:
            os.close(fd)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_file(path) as f:
        f.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of this module's temporary names."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def cleanup_temporaries(folder: Path) -> list[Path]:
    """Remove temporary files (and folders) a killed writer left in ``folder``. Call it only
    while holding the folder's lock: another writer's live temporary would go too."""
    import shutil

    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not is_temporary(entry.name):
                continue
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _shown(path: Path) -> str:
    """A path for a one-line message: very long ones are cut in the middle."""
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}...{text[-50:]}"


def _existing_ancestor(path: Path, option: str) -> Path:
    """The nearest folder above ``path`` that exists; a UsageError for a path that cannot be
    looked at (a symlink loop, a name or path too long, a file where a folder should be)."""
    from .errors import UsageError

    parent = path.parent
    while True:
        try:
            os.stat(parent)
            break
        except FileNotFoundError:
            if os.path.lexists(parent):  # a dangling symlink
                raise UsageError(f"{option} {_shown(path)}: {parent} is a broken symbolic link") \
                    from None
            if parent == parent.parent:
                break
            parent = parent.parent
        except OSError as exc:
            raise UsageError(f"{option} {_shown(path)}: {_reason(exc)}") from None
    if not parent.is_dir():
        raise UsageError(f"{option} {_shown(path)}: {parent} is not a folder")
    return parent


def _reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return exc.strerror or str(exc)


def _check_names(path: Path, where: Path, option: str) -> None:
    """Refuse a name longer than the file system allows, or a path longer than PATH_MAX."""
    from .errors import UsageError

    try:
        name_max = os.pathconf(where, "PC_NAME_MAX")
        path_max = os.pathconf(where, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    for k, part in enumerate(path.parts):
        room = name_max - (TEMP_EXTRA if k == len(path.parts) - 1 else 0)
        if len(os.fsencode(part)) > room:
            raise UsageError(f"{option} {_shown(path)}: file name too long ({len(part)} "
                             f"characters; at most {room} here)")
    if len(os.fsencode(os.path.abspath(path))) + TEMP_EXTRA >= path_max:
        raise UsageError(f"{option} {_shown(path)}: path too long (over {path_max} bytes)")


def _writable(folder: Path) -> str | None:
    """Why files cannot be created in ``folder``, or None."""
    if os.access(folder, os.W_OK | os.X_OK):
        return None
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except (OSError, AttributeError):
        pass
    return "permission denied"


def check_output_folder(path: str | os.PathLike, option: str) -> Path:
    """Refuse, before any work, a folder that cannot be created or written in: a file there,
    a symlink loop or broken link, a name too long, a read-only or forbidden place."""
    from .errors import UsageError

    path = Path(path)
    _check_names(path, Path("."), option)
    try:
        os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise UsageError(f"{option} {_shown(path)}: a broken symbolic link") from None
        where = _existing_ancestor(path, option)
    except OSError as exc:
        raise UsageError(f"{option} {_shown(path)}: {_reason(exc)}") from None
    else:
        if not path.is_dir():
            raise UsageError(f"{option} {_shown(path)}: exists and is not a folder")
        where = path
    _check_names(path, where, option)
    why = _writable(where)
    if why:
        raise UsageError(f"{option} {_shown(path)}: cannot write in {where} ({why})")
    return path


def check_output_path(path: str | os.PathLike, suffixes: tuple[str, ...] | None,
                      option: str) -> Path:
    """Refuse, before any work, an output path that cannot be written: an unknown extension,
    a folder, a symlink loop, a name too long, or a parent folder that is not writable.
    ``suffixes``: the extensions allowed (None: any). Returns the path."""
    from .errors import UsageError

    path = Path(path)
    _check_names(path, Path("."), option)
    try:
        os.stat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise UsageError(f"{option} {_shown(path)}: {_reason(exc)}") from None
    if path.is_dir():
        raise UsageError(f"{option} {_shown(path)}: is a folder; give a file name")
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {_shown(path)}: unknown extension {path.suffix or '(none)'!r} "
                         f"(use {', '.join(suffixes)})")
    parent = _existing_ancestor(path, option)
    _check_names(path, parent, option)
    why = _writable(parent)
    if why:
        raise UsageError(f"{option} {_shown(path)}: cannot write in {parent} ({why})")
    return path
