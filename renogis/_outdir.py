"""The output folder of a run: never delete what renogis did not write, never leave half an output.

A run writes into a temporary sibling folder ``.<out>.tmp-<pid>-*`` and moves it into place at the end.
The folder it replaces must be a previous renogis output, recognised by its manifest
(:data:`MANIFEST`, every file with its SHA-256): a folder that holds any other file, or a file of the
manifest edited since, is refused with the names of those files; nothing is ever deleted that renogis
did not write. The swap is crash-safe: SIGINT, SIGTERM and SIGHUP during the run remove the temporary
folder and leave the previous output as it was; during the swap they are held back until the swap is
complete. A process killed outright (SIGKILL, power loss) can leave its temporary folder, or the previous
output moved aside; the next run into the same folder removes the first and restores the second.
Folders get the user's umask (not the 0700 of :func:`tempfile.mkdtemp`); parent folders made for a run
that fails are removed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renogis._errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["MANIFEST", "OutputFolder", "RunInterrupted", "handle_signals", "raise_pending"]

#: The manifest renogis writes into every output folder: the files it wrote, with their SHA-256.
MANIFEST = "renogis_manifest.json"
_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``committed`` says whether its output was already complete."""

    def __init__(self, signum: int, *, committed: bool = False) -> None:
        super().__init__(signum)
        self.signum = signum
        self.committed = committed


# Signals that arrive while a critical section runs are recorded here and raised when it ends. Blocking
# with pthread_sigmask is not enough: the process has other threads (BLAS, GDAL) that take the signal, and
# Python then runs the handler in the main thread whatever its mask.
_held: dict[str, Any] = {"depth": 0, "pending": None, "last": None}


def last_signal() -> int | None:
    """The number of the last signal the handler received (libraries may re-raise it as another message)."""
    return _held.get("last")


def _raise_interrupted(signum: int, frame: object) -> None:
    _held["last"] = signum
    if _held["depth"]:
        _held["pending"] = _held["pending"] or signum
        return
    raise RunInterrupted(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP (and SIGINT) into :class:`RunInterrupted` while the block runs.

    Only in the main thread (Python delivers signals there); elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    hook = sys.unraisablehook

    def unraisable(info: Any) -> None:
        # The handler's exception can land in a weakref callback or __del__, where Python prints and drops
        # it: keep the signal instead, for the next checkpoint (:func:`raise_pending`) to raise.
        if isinstance(info.exc_value, RunInterrupted):
            _held["pending"] = _held["pending"] or info.exc_value.signum
            return
        hook(info)

    for s in _SIGNALS:
        signal.signal(s, _raise_interrupted)
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        sys.unraisablehook = hook
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        if previous.get(signal.SIGINT) is not _raise_interrupted:
            _held["pending"] = None


def raise_pending() -> None:
    """Raise a signal that arrived where it could not be raised (held, or dropped by Python)."""
    if not _held["depth"] and _held["pending"]:
        signum, _held["pending"] = _held["pending"], None
        raise RunInterrupted(signum)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP back while the block runs (under :func:`handle_signals`); one that came
    meanwhile is raised as :class:`RunInterrupted` right after the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _held["depth"] += 1
    try:
        yield
    finally:
        _held["depth"] -= 1
    if not _held["depth"] and _held["pending"]:
        signum, _held["pending"] = _held["pending"], None
        raise RunInterrupted(signum)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listing(root: Path) -> list[str]:
    """Every file and symlink under ``root``, as sorted POSIX paths relative to it (folders omitted)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in filenames + [d for d in dirnames if (base / d).is_symlink()]:
            out.append((base / name).relative_to(root).as_posix())
    return sorted(out)


def _short(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def read_manifest(folder: Path) -> dict[str, str] | None:
    """The manifest of a previous output folder (relative path -> SHA-256), or None when it has none."""
    path = folder / MANIFEST
    if not path.is_file() or path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            return None
        return {str(k): str(v) for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def foreign_files(folder: Path) -> list[str]:
    """Files in ``folder`` that renogis did not write there (or that were edited since): never deleted."""
    listing = [p for p in _listing(folder) if p != MANIFEST]
    manifest = read_manifest(folder)
    if manifest is None:
        return listing + ([MANIFEST] if (folder / MANIFEST).exists() else [])
    foreign = []
    for rel in listing:
        p = folder / rel
        if rel not in manifest or p.is_symlink() or _sha256(p) != manifest[rel]:
            foreign.append(rel)
    # empty sub-folders the user made are harmless to keep but would be deleted: count them too
    for dirpath, dirnames, filenames in os.walk(folder):
        if not dirnames and not filenames and Path(dirpath) != folder:
            rel = Path(dirpath).relative_to(folder).as_posix()
            if not any(k.startswith(rel + "/") for k in manifest):
                foreign.append(rel + "/")
    return sorted(foreign)


@dataclass
class OutputFolder:
    """Prepare, fill and commit one output folder (see the module docstring).

    Parameters
    ----------
    out : Path
        The output folder the user named.
    inputs : iterable of Path
        Input files and folders: none of them may lie inside ``out``.
    """

    out: Path
    inputs: Iterable[Path] = ()
    tmp: Path = field(init=False)
    committed: bool = field(init=False, default=False)
    created_parents: list[Path] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.out = Path(os.path.abspath(self.out))
        if self.out.exists() or self.out.is_symlink():
            self.out = self.out.resolve()

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """Refuse an output folder that would lose or replace something the user holds."""
        out = self.out
        cwd = Path.cwd().resolve()
        if out == cwd or out in cwd.parents:
            raise InputError(f"--out {out}: this is the current folder or one of its parents; name a new "
                             "sub-folder instead, e.g. --out result")
        if out.parent == out:
            raise InputError(f"--out {out}: a file-system root cannot be an output folder; name a sub-folder")
        for src in self.inputs:
            s = Path(os.path.abspath(src))
            s = s.resolve() if s.exists() else s
            if s == out or out in s.parents:
                raise InputError(f"--out {out}: the input {src} lies inside the output folder, which a run "
                                 "replaces; choose another --out or move the input out of it")
        self._recover()
        if out.exists():
            if not out.is_dir():
                raise InputError(f"--out {out}: exists and is not a folder; choose another output path")
            foreign = foreign_files(out)
            if foreign:
                raise InputError(
                    f"--out {out}: the folder holds files that renogis did not write or that were edited "
                    f"since ({len(foreign)}: {_short(foreign)}); nothing was changed. Move them out, or "
                    "choose an empty or new folder (only a previous renogis output, unedited, is replaced)")

    def _recover(self) -> None:
        """Clean up after a run of this folder that was killed outright (SIGKILL, power loss)."""
        parent, name = self.out.parent, self.out.name
        if not parent.is_dir():
            return
        pattern = re.compile(rf"^\.{re.escape(name)}\.(tmp|old)-(\d+)-")
        for entry in sorted(parent.iterdir()):
            m = pattern.match(entry.name)
            if not m or not entry.is_dir() or entry.is_symlink() or _pid_alive(int(m.group(2))):
                continue
            if m.group(1) == "old" and not self.out.exists() and read_manifest(entry) is not None:
                entry.rename(self.out)
                logger.warning("restored the previous output %s from %s, left by a run that was killed",
                               self.out, entry.name)
            elif m.group(1) == "tmp" or read_manifest(entry) is not None:
                shutil.rmtree(entry, ignore_errors=True)
                logger.warning("removed %s, left behind by a run that was killed", entry)

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> Path:
        """Check ``out``, make its missing parents and the temporary folder; return the temporary folder."""
        self.check()
        missing = []
        p = self.out.parent
        while not p.exists():
            missing.append(p)
            p = p.parent
        try:
            # held: a signal between creating a folder and recording it would leave it behind
            with _signals_held():
                for d in reversed(missing):
                    d.mkdir()
                    self.created_parents.append(d)
                self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-{os.getpid()}-",
                                                 dir=self.out.parent))
        except PermissionError as exc:
            self.remove_created_parents()
            raise InputError(f"--out {self.out}: cannot write in {exc.filename or self.out.parent} "
                             "(permission denied); choose a folder you can write to") from None
        except OSError as exc:
            self.remove_created_parents()
            raise InputError(f"--out {self.out}: cannot create the output folder ({exc.strerror}: "
                             f"{exc.filename}); choose another --out") from None
        return self.tmp

    def abort(self) -> None:
        """Remove the temporary folder and the parents made for this run; the previous output stays."""
        tmp = getattr(self, "tmp", None)
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        self.remove_created_parents()

    def remove_created_parents(self) -> None:
        for d in reversed(self.created_parents):
            with contextlib.suppress(OSError):
                d.rmdir()
        self.created_parents.clear()

    def commit(self) -> list[str]:
        """Write the manifest and move the temporary folder into place (signals held back meanwhile).

        Returns the relative paths of the files written.
        """
        raise_pending()
        tmp, out = self.tmp, self.out
        files = [p for p in _listing(tmp) if p != MANIFEST]
        from renogis import __version__

        manifest = {"renogis": __version__, "note": "files written by renogis; a later run replaces only "
                    "these, and only while unedited", "files": {p: _sha256(tmp / p) for p in files}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        mode = 0o777 & ~_umask()
        for dirpath, _dirs, _files in os.walk(tmp):
            os.chmod(dirpath, mode)
        with _signals_held():
            # check again: the folder may have changed while the run was computing
            if out.exists():
                foreign = foreign_files(out) if out.is_dir() else [out.name]
                if foreign:
                    raise InputError(f"--out {out}: {len(foreign)} file(s) appeared in the folder during "
                                     f"the run ({_short(foreign)}); nothing was changed, choose another "
                                     "--out")
            old = None
            if out.exists():
                old = out.with_name(f".{out.name}.old-{os.getpid()}-{int(time.time() * 1000)}")
                out.rename(old)
            try:
                tmp.rename(out)
            except BaseException:
                if old is not None:
                    old.rename(out)
                raise
            self.committed = True
            self.created_parents.clear()
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return files + [MANIFEST]
