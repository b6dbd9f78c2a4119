"""The one way commands write output: atomically, and with one sentence naming the path when they cannot.

- :func:`write_file` writes one file: a temporary file in the destination's folder, fsync, ``os.replace``. A crash or
  error never leaves a partial file at the destination, and the temporary file is removed. The file's mode follows the
  umask, as a plain ``open()`` would (``mkstemp`` would give 0600).
- :class:`StagedOutputs` writes several files that belong together (``frame_000.png …`` + ``metrics.json``): they
  are written under temporary names first and moved into place only when every one was written;
  :meth:`StagedOutputs.add_written` stages files of a writer that takes a file name (a checkpoint's three files).
- :func:`append_line` appends one line to a log or results file (a training run's ``log.jsonl``); a line that does
  not fit is cut off again, so the file holds whole lines only.
- :func:`check_file_target` / :func:`check_folder_target` find an unwritable destination before any work is done,
  a full disk included (they write one block and remove it).
- :func:`output_lock` keeps two writers out of one destination at once.
- :func:`output_errors_in` words the write errors of long work that writes many files into one folder (training).
- Temporary files and staging folders carry the writer's pid; the first write into a folder removes those a killed
  writer (SIGKILL, power loss) left there (pid gone, untouched for two minutes), once per folder and process.

Every ``OSError`` met becomes an :class:`OutputError` (a ``ValueError``: ``gan-studio`` prints it as one sentence
with exit code 2) that says what is wrong: permission denied, read-only file system, a missing folder, a file where a
folder should be, a folder where a file should be, a full disk.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO, Self

_FILE_MODE = 0o666  # before the umask, like open(path, "w")
_STAGING_PREFIX = ".gan-studio-staging-"
_FOREIGN_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_PID_GRACE_S = 10.0  # a lock file without its pid yet is a writer that has only just started
_PROBE_BYTES = 4096  # one block: a disk without room for it takes no output at all


class OutputError(ValueError):
    """An output that cannot be written; the message is one sentence naming the path."""


def _blocker(path: Path) -> Path | None:
    """The first existing component of ``path``'s folders that is not a folder (a file in the way), if any."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path(".")


def output_error(exc: OSError, path: str | Path) -> OutputError:
    """One sentence for ``exc``, met while writing ``path``."""
    path = Path(path)
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return OutputError(f"{path} cannot be written: the disk is full; free some space and try again")
    if code == errno.EROFS:
        return OutputError(f"{path} cannot be written: the file system is read-only")
    if code in (errno.EACCES, errno.EPERM):
        return OutputError(f"{path} cannot be written: permission denied; choose a folder you can write to")
    if code == errno.EISDIR or (code == errno.EEXIST and path.is_dir()):
        return OutputError(f"{path} is a folder, not a file; give a file name")
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = _blocker(path) or (path if path.exists() and not path.is_dir() else None)
        if blocker is not None:
            return OutputError(f"{path} cannot be written: a file is in the way ({blocker} is not a folder)")
        return OutputError(f"{path} cannot be written: something is in the way")
    if code == errno.ENOENT:
        return OutputError(f"{path} cannot be written: its folder {path.parent} does not exist")
    return OutputError(f"{path} cannot be written ({exc.strerror or exc})")


@contextmanager
def output_errors(path: str | Path) -> Iterator[None]:
    """Turn any ``OSError`` with an errno raised inside into an :class:`OutputError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.errno is None:
            raise
        raise output_error(exc, path) from None
    except Exception as exc:  # libraries in Rust (safetensors) report I/O errors as "... (os error 28)"
        found = _FOREIGN_OS_ERROR.search(str(exc))
        if found is None:
            raise
        code = int(found.group(1))
        raise output_error(OSError(code, os.strerror(code)), path) from None


# Errors that only writing meets: whatever file they name, it is the output that cannot be written.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)}


@contextmanager
def output_errors_in(folder: str | Path) -> Iterator[None]:
    """Like :func:`output_errors` for work that writes many files into ``folder`` (a training run): an ``OSError``
    about a file in ``folder``, or one only writing meets (a full disk, a read-only file system), becomes an
    :class:`OutputError` naming ``folder``; others (an unreadable input) pass unchanged."""
    folder = Path(folder)
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        if exc.errno is None:
            raise
        name = Path(os.fsdecode(exc.filename)) if exc.filename else None
        inside = name is not None and (name == folder or folder in name.parents)
        if exc.errno not in _WRITE_ERRNOS and not inside:
            raise
        raise output_error(exc, folder) from None
    except Exception as exc:  # safetensors (Rust): "... (os error 28)"
        found = _FOREIGN_OS_ERROR.search(str(exc))
        if found is None or int(found.group(1)) not in _WRITE_ERRNOS:
            raise
        code = int(found.group(1))
        raise output_error(OSError(code, os.strerror(code)), folder) from None


def _probe(folder: Path, target: Path) -> None:
    """Create a file in ``folder``, write one block into it through to the disk, and remove it: the only test of
    writability that read-only mounts, ACLs, root's privileges and a full disk all answer truthfully (creating an
    empty file still succeeds on a full disk, which has inodes left)."""
    with output_errors(target):
        fd, name = tempfile.mkstemp(prefix=".gan-studio-probe-", dir=folder)
        try:
            os.write(fd, bytes(_PROBE_BYTES))
            os.fsync(fd)  # a file system that allocates late (NFS, ext4's delayed allocation) says so here
        finally:
            os.close(fd)
            os.unlink(name)


def check_folder_target(folder: str | Path) -> Path:
    """Check, before any work, that ``folder`` is (or can become) a folder this process can write into."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file, not a folder")
    blocker = _blocker(folder)
    if blocker is not None:
        raise OutputError(f"{folder} cannot be created: a file is in the way ({blocker} is not a folder)")
    _probe(_existing_ancestor(folder), folder)
    return folder


def check_file_target(path: str | Path) -> Path:
    """Check, before any work, that a file can be written at ``path`` (its folders may still be missing)."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder, not a file; give a file name")
    blocker = _blocker(path)
    if blocker is not None:
        raise OutputError(f"{path} cannot be written: a file is in the way ({blocker} is not a folder)")
    _probe(_existing_ancestor(path.parent), path)
    return path


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those it created, innermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    blocker = _blocker(folder / "x")
    if blocker is not None:
        raise OutputError(f"{folder} cannot be created: a file is in the way ({blocker} is not a folder)")
    with output_errors(folder):
        folder.mkdir(parents=True, exist_ok=True)
    return missing


_LEFTOVER = re.compile(r"\..+\.p(\d+)-[0-9a-f]{8}\.tmp|" + re.escape(_STAGING_PREFIX) + r"p(\d+)-[0-9a-z_]+")
# A leftover is removed only once untouched this long too: a pid alone cannot tell a writer on another machine
# (a shared folder) from a dead one, and a live writer touches its file or staging folder far more often.
_LEFTOVER_AGE_S = 120.0
_swept: set[Path] = set()


def sweep_leftovers(folder: Path) -> list[Path]:
    """Remove the temporary files and staging folders in ``folder`` whose writer process is gone (killed before it
    could clean up); returns what was removed. Runs once per folder and process; never raises."""
    try:
        key = folder.resolve()
    except OSError:
        return []
    if key in _swept:
        return []
    _swept.add(key)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for entry in entries:
        m = _LEFTOVER.fullmatch(entry.name)
        pid = int(m.group(1) or m.group(2)) if m else 0
        if m is None or pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            if time.time() - entry.lstat().st_mtime < _LEFTOVER_AGE_S:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed


def temp_file(folder: Path, name: str) -> tuple[int, Path]:
    """A new file in ``folder`` with a hidden unique name (holding this process's pid) and the umask's mode, open
    for writing: (descriptor, path). Every atomic write starts here, so its file gets the mode a plain ``open()``
    would give (``tempfile.mkstemp`` would give 0600)."""
    sweep_leftovers(folder)
    for _ in range(100):
        tmp = folder / f".{name}.p{os.getpid()}-{os.urandom(4).hex()}.tmp"
        try:
            return os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), _FILE_MODE
            ), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(folder))


def _write_temp(folder: Path, name: str, write: Callable[[BinaryIO], None]) -> Path:
    fd, tmp = temp_file(folder, name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_file(path: str | Path, write: Callable[[BinaryIO], None], *, make_parents: bool = False) -> Path:
    """Write ``path`` atomically: ``write(f)`` fills a temporary file beside it, which then replaces ``path``.

    A missing folder is an :class:`OutputError` unless ``make_parents``; so is every other ``OSError``.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder, not a file; give a file name")
    if make_parents:
        _make_folder(path.parent)
    with output_errors(path):
        tmp = _write_temp(path.parent, path.name, write)
        try:
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def write_text(path: str | Path, text: str, *, make_parents: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`write_file`)."""
    data = text.encode("utf-8")
    return write_file(path, lambda f: f.write(data), make_parents=make_parents)


def append_line(f: IO, line: str) -> None:
    """Append ``line`` and a newline, UTF-8, to ``f`` (a file opened to append: a training log, a benchmark's results
    file), written through at once so that a reader following the file (the Train workspace) or a kill sees whole
    lines. On a write error (a full disk, a read-only file system) the file is cut back to its whole lines and an
    :class:`OutputError` names it."""
    data = (line + "\n").encode("utf-8")
    path = os.fsdecode(f.name)
    with output_errors(path):
        f.flush()  # whatever the file object holds goes first; the line itself bypasses it, so closing cannot fail
        fd = f.fileno()
        size = os.fstat(fd).st_size
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        try:
            os.ftruncate(fd, size)
        except OSError:
            pass
        raise output_error(exc, path) from None


class StagedOutputs:
    """Files that belong together, written under temporary names and moved into place only by :meth:`commit`.

    Used as a context manager: leaving the block normally commits, an exception discards everything staged, so an
    error (a full disk at the last frame) leaves the destinations as they were. ``own`` names, per destination
    folder, the files this command writes there (e.g. ``frame_\\d{3}\\.png``); at commit, such files that the new
    set does not include are deleted, so a rerun with fewer frames leaves no stale frame beside an index listing
    fewer. Files of any other name are never touched: users point ``--out`` at folders that hold other things, and
    refusing such a folder would surprise them as much as deleting from it would harm them. The ``index`` file of a
    folder (``metrics.json``) is removed first and moved in last, so even a crash in the middle of the moves never
    leaves an index that lists files of another run.
    """

    def __init__(self) -> None:
        self._moves: list[tuple[Path, Path]] = []  # (temporary, destination), in commit order
        self._folders: dict[Path, tuple[re.Pattern[str] | None, str | None]] = {}
        self._staging: list[Path] = []
        self._created: list[Path] = []  # folders made for the outputs, removed again if nothing lands in them

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def folder(self, folder: str | Path, own: str | None = None, index: str | None = None) -> Path:
        """Declare the destination ``folder`` (created if missing), whose files named by the regular expression
        ``own`` are this command's, and whose ``index`` file lists the others."""
        folder = Path(folder)
        self._created += _make_folder(folder)
        self._folders[folder] = (re.compile(own) if own else None, index)
        return folder

    def _destination(self, path: str | Path) -> Path:
        """``path`` as a staged file's destination: not a folder, its folder created when not declared."""
        path = Path(path)
        if path.is_dir():
            raise OutputError(f"{path} is a folder, not a file; give a file name")
        if path.parent not in self._folders:
            self._created += _make_folder(path.parent)
        return path

    def add(self, path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
        """Stage ``path``: ``write(f)`` fills its temporary file now; the file appears at ``path`` at commit."""
        path = self._destination(path)
        with output_errors(path):
            tmp = _write_temp(self._stage_dir(path.parent), path.name, write)
        self._moves.append((tmp, path))
        return path

    def add_text(self, path: str | Path, text: str) -> Path:
        data = text.encode("utf-8")
        return self.add(path, lambda f: f.write(data))

    def add_written(self, path: str | Path, write_into: Callable[[Path], object]) -> list[Path]:
        """Stage the files that ``write_into(folder)`` writes into an empty staging folder, under their final names,
        for ``path``'s folder; for writers that take a file name rather than a file object (a checkpoint's weights,
        manifest and card). An error in it names ``path``. Returns the destinations staged."""
        path = self._destination(path)
        with output_errors(path):
            inner = Path(tempfile.mkdtemp(dir=self._stage_dir(path.parent)))
            write_into(inner)
            written = sorted(p for p in inner.iterdir() if p.is_file() and not p.name.startswith("."))
        for tmp in written:
            self._moves.append((tmp, path.parent / tmp.name))
        return [path.parent / tmp.name for tmp in written]

    def _stage_dir(self, folder: Path) -> Path:
        for staged in self._staging:
            if staged.parent == folder:
                return staged
        with output_errors(folder):
            sweep_leftovers(folder)
            staged = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}p{os.getpid()}-", dir=folder))
        self._staging.append(staged)
        return staged

    def commit(self) -> None:
        """Move every staged file into place (indexes last) and delete this command's stale files."""
        indexes = {folder / index for folder, (_, index) in self._folders.items() if index}
        try:
            for folder, (own, index) in self._folders.items():
                with output_errors(folder):
                    if index:
                        (folder / index).unlink(missing_ok=True)
                    if own is not None:
                        new = {dest.name for _, dest in self._moves if dest.parent == folder}
                        for old in folder.iterdir():
                            if old.name not in new and own.fullmatch(old.name) and old.is_file():
                                old.unlink()
            moves = sorted(self._moves, key=lambda m: m[1] in indexes)  # stable: indexes last
            for tmp, dest in moves:
                with output_errors(dest):
                    os.replace(tmp, dest)
            self._created.clear()
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove everything staged and not yet moved into place."""
        for tmp, _ in self._moves:
            tmp.unlink(missing_ok=True)
        for staged in self._staging:
            shutil.rmtree(staged, ignore_errors=True)
        self._moves.clear()
        self._staging.clear()
        for folder in sorted(
            self._created, key=lambda p: len(p.parts), reverse=True
        ):  # a folder with files stays
            try:
                folder.rmdir()
            except OSError:
                pass
        self._created.clear()


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except OSError:
        return False
    return True


def lock_path(out: str | Path) -> Path:
    """The lock file of destination ``out``: ``.NAME.lock`` beside it (``out`` itself appears only when done)."""
    out = Path(out)
    return out.parent / f".{out.name}.lock"


@contextmanager
def output_lock(out: str | Path) -> Iterator[Path]:
    """Hold the lock of destination ``out`` (whose folder must exist) while writing it; a second writer gets an
    :class:`OutputError`.

    The lock file is created with ``O_EXCL`` and holds the writer's pid; a lock whose process is gone (killed)
    is taken over, so a crash never blocks the destination for good.
    """
    out = Path(out)
    lock = lock_path(out)
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
        except FileExistsError:
            if not lock.is_file():
                raise OutputError(f"{out} cannot be written: {lock} is in the way of its lock file") from None
            try:
                pid = int(lock.read_text(encoding="ascii").strip() or 0)
                age = time.time() - lock.stat().st_mtime
            except (OSError, ValueError):
                pid, age = 0, 0.0
            if (pid and _pid_alive(pid)) or (not pid and age < _PID_GRACE_S):  # no pid yet: just created
                raise OutputError(
                    f"{out} is being written by another gan-studio (process {pid or 'starting'}); "
                    "wait for it to finish"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its writer was killed
            continue
        except OSError as exc:
            raise output_error(exc, out) from None
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(f"{os.getpid()}\n")
        except OSError as exc:  # a full disk: no lock is left behind
            lock.unlink(missing_ok=True)
            raise output_error(exc, out) from None
        break
    else:
        raise OutputError(f"{out} is being written by another gan-studio; wait for it to finish")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)
