"""Text and file I/O helpers: atomic writes, JSON reads whose errors name the file, and the one
KEY=VALUE parser of the command line."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from uara.errors import UaraError


#: The distributions whose versions decide a result's numbers; recorded in every results manifest
#: and report (:func:`package_versions`) and pinned, with everything else, in constraints.txt.
RECORDED_PACKAGES = ("numpy", "scipy", "cvxpy", "clarabel", "pyscipopt", "highspy", "torch", "sionna",
                     "sionna-rt", "transformers", "pandas")


def package_versions(names: tuple[str, ...] = RECORDED_PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when it is not installed), Python's included;
    read from the installed metadata, nothing imported."""
    import importlib.metadata as md
    import platform

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def atomic_save_figure(fig: Any, path: str | os.PathLike, *, dpi: int = 110, **savefig: Any) -> Path:
    """Render a matplotlib figure to PNG in memory, then write it atomically (:func:`atomic_write_bytes`):
    a full disk or a crash leaves the old figure or none, never half a PNG. By default no software tag in
    the metadata, so reruns give identical bytes (``metadata=None``: matplotlib's default tags)."""
    import io as _io

    savefig.setdefault("metadata", {"Software": None})
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, **savefig)
    return atomic_write_bytes(path, buf.getvalue())


def available_memory_bytes() -> float | None:
    """MemAvailable of /proc/meminfo (Linux) in bytes, else None (callers then skip their memory check)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None


def check_output_path(path: str | os.PathLike, what: str = "output") -> Path:
    """Where a write to ``path`` lands (a symlink resolved to its target), checked before any work:
    a one-line :class:`UaraError` if it is a folder, its name is too long, or its folder cannot be
    made or written."""
    if str(path).strip() == "":
        raise UaraError(f"{what}: empty path; give a file name")
    if str(path) == "-":
        raise UaraError(f"{what} '-': not a file name (standard output is /dev/stdout)")
    long = next((part for part in Path(path).parts if len(part.encode()) > 255), None)
    if long is not None:
        raise UaraError(f"{what} {path}: a name in the path is {len(long.encode())} bytes long (at most 255)")
    target = Path(os.path.realpath(path))
    if Path(path).is_symlink() and not target.exists() and not target.parent.is_dir():
        raise UaraError(f"{what} {path}: a symlink to {target}, whose folder does not exist (no folder is made "
                        "through a dangling link)")
    if target.is_dir():
        raise UaraError(f"{what} {path}: is a folder; give a file name")
    if _is_stream(path, target):
        return target
    parent = target.parent
    for anc in [parent, *parent.parents]:
        if anc.exists():
            if not anc.is_dir():
                raise UaraError(f"{what} {path}: {anc} is a file, not a folder")
            if not os.access(anc, os.W_OK | os.X_OK):
                raise UaraError(f"{what} {path}: cannot write in {anc} (permission denied)")
            break
    return target


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same
    folder, fsync, then ``os.replace``. A crash leaves the old file or none,
    never half a file. A symlink is followed (its target is replaced, the link
    stays); a device or pipe (``/dev/stdout``) is written directly. The file
    gets the mode a plain ``open`` would give it (0666 less the umask)."""
    target = check_output_path(path)
    if _is_stream(path, target):
        try:
            _write_stream(path, data)
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        return Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:200]}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):  # a full disk, a read-only or vanished folder: one line, nothing half-written
            raise _cannot_write(path, exc) from None
        raise
    return Path(path)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "uara compare") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (the file ``.uara.lock`` in it, holding this process's pid) for
    the duration; a second holder is refused with one line naming the first one's pid. The kernel drops
    the lock when the process ends, killed or not (``fcntl.flock``), so a stale lock file blocks nothing."""
    import fcntl

    path = Path(folder) / ".uara.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise _cannot_write(folder, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise UaraError(f"{folder} is in use by another {what} (pid {holder}); wait for it to finish or "
                            "choose another --output") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _cannot_write(path: str | os.PathLike, exc: OSError) -> UaraError:
    """The one-line error of a failed write (a full disk, a read-only or vanished folder)."""
    return UaraError(f"cannot write {path}: {exc.strerror or exc}")


def check_not_input(output: str | os.PathLike | None, inputs: Any, what: str = "--output") -> None:
    """Refuse an output path that is one of the inputs (``uara solve x.json -O x.json`` would replace the
    instance with its solution)."""
    if output is None:
        return
    out = os.path.realpath(output)
    for inp in inputs:
        if inp is not None and os.path.realpath(inp) == out:
            raise UaraError(f"{what} {output}: is also an input of this command; write elsewhere")


def _is_stream(path: str | os.PathLike, target: Path) -> bool:
    """A device, pipe or /dev/std* path: written directly, never replaced."""
    return str(path).startswith(("/dev/", "/proc/")) or (target.exists() and not target.is_file())


def _write_stream(path: str | os.PathLike, data: bytes) -> None:
    """/dev/stdout and /dev/stderr through this process's own streams (so nothing printed is overwritten);
    other devices and pipes appended to."""
    import sys

    std = {"/dev/stdout": sys.stdout, "/dev/stderr": sys.stderr}.get(str(path))
    if std is not None:
        std.flush()
        std.buffer.write(data)
        std.buffer.flush()
        return
    with open(path, "ab") as fh:
        fh.write(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomic text write (UTF-8); see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def _finite_or_null(obj: Any) -> Any:
    """JSON has no inf/NaN: map them to null (documented in docs/formats.md)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_null(v) for v in obj]
    return obj


def dumps_json(obj: Any, indent: int | None = 1) -> str:
    """Serialise to strict JSON (numpy converted, non-finite floats as null)."""
    plain = json.loads(json.dumps(obj, default=_json_default))
    return json.dumps(_finite_or_null(plain), indent=indent, allow_nan=False) + "\n"


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> Path:
    """Atomic JSON write; see :func:`dumps_json`."""
    return atomic_write_text(path, dumps_json(obj, indent=indent))


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """Read a JSON file; a missing file or malformed JSON raises :class:`UaraError`
    naming the file (and line/column for syntax errors)."""
    path = Path(path)
    if not path.exists():
        raise UaraError(f"{what} not found: {path}")
    if path.is_dir():
        raise UaraError(f"{what} is a folder, expected a JSON file: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UaraError(f"cannot read {what} {path}: {exc}") from None
    if not text.strip():
        raise UaraError(f"{path}: empty file, expected JSON")
    try:
        return json.loads(text, parse_int=_json_int)
    except RecursionError:
        raise UaraError(f"{path}: JSON nested too deeply to read") from None
    except json.JSONDecodeError as exc:
        raise UaraError(
            f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except ValueError as exc:  # from _json_int
        raise UaraError(f"{path}: unreadable JSON: {exc}") from None


#: The most digits an integer literal in a JSON file may have (Python refuses to convert 4300 or more).
MAX_INT_DIGITS = 30


def _json_int(text: str) -> int:
    """An integer literal of a JSON file; an absurdly long one is refused (it is a typo or an attack)."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer literal of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def parse_key_value(item: str, flag: str) -> tuple[str, str]:
    """``"KEY=VALUE"`` -> (KEY, VALUE), both stripped; a one-line error naming ``flag`` otherwise."""
    key, sep, value = str(item).partition("=")
    if not sep or not key.strip():
        raise UaraError(f"{flag} expects KEY=VALUE, got {item!r}")
    return key.strip(), value.strip()


def parse_value(text: str) -> Any:
    """A command-line value: JSON where it parses (numbers, true/false, null, lists), else the plain string.
    The receiver then checks it against its declared type (solver options, parameters, build options)."""
    try:
        return json.loads(text, parse_int=_json_int)
    except ValueError:  # not JSON (or an absurd integer): the plain string, checked by the receiver
        return text


def parse_key_values(items: list[str] | None, flag: str) -> dict[str, Any]:
    """``["k=v", ...]`` -> {k: parse_value(v)}: the one KEY=VALUE parser of every subcommand."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, value = parse_key_value(item, flag)
        out[key] = parse_value(value)
    return out
