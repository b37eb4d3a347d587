"""Output directories that never damage what clustersim did not create.

Rules (checked by :func:`check_out` *before* anything is simulated, and again when saving):

- An existing ``--out`` is replaced only if it is a directory clustersim wrote itself, of the
  same kind (a run directory for ``run``, a bench directory for ``bench``), recognised by its
  ``manifest.json``, or an empty directory. Anything else (a file, a symbolic link, a
  directory of the user's files, the working directory or one holding it) is refused.
- The parent must exist or be creatable, and writable.
- Names taken from scenarios go through :func:`safe_name` (no separators, no ``..``).
- :func:`staged` writes into a temporary sibling and swaps it in at the end, with SIGINT and
  SIGTERM held off during the swap; every exit path (an error, Ctrl-C, ``kill``) removes the
  temporary.

Must not import: simpy, numba, anything from ``engine``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .scenario import Problem, ScenarioError

MANIFEST = "manifest.json"


class OutputError(ScenarioError):
    """An output path that may not be written (exit status 2, like bad input)."""


def safe_name(name: str, default: str = "run") -> str:
    """``name`` as one harmless path component: path separators, ``.`` and ``..`` parts
    dropped, other characters than letters, digits and ``._-`` replaced by ``_``, no leading
    dot, at most 100 characters (``"../../x"`` -> ``"x"``, ``"/a/b"`` -> ``"a_b"``)."""
    parts = [p for p in re.split(r"[/\\]+", name) if p not in ("", ".", "..")]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(parts)).lstrip(".")[:100]
    return cleaned or default


def kind_of(directory: Path) -> str | None:
    """``"run"`` or ``"bench"`` if clustersim wrote ``directory``, else None."""
    path = directory / MANIFEST
    try:  # a regular, small file only: a FIFO named manifest.json would block the read
        if not path.is_file() or path.stat().st_size > 2**20:
            return None
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or "clustersim" not in manifest:
        return None
    return str(manifest.get("kind", "run"))


def check_out(out: str | Path, kind: str = "run") -> Path:
    """The absolute output directory, after checking it may be written (see the module
    docstring); creates missing parents. Raises :class:`OutputError` otherwise."""
    given = str(out)
    path = Path(os.path.abspath(out))

    def refuse(message: str) -> OutputError:
        return OutputError([Problem(given, "--out", message)])

    if path.parent == path or Path.cwd().resolve().is_relative_to(path.resolve()):
        raise refuse("is the working directory or one of its parents; name a new directory")
    if path.is_symlink():
        raise refuse("is a symbolic link; clustersim replaces only its own run directories")
    if path.exists():
        if not path.is_dir():
            raise refuse("exists and is not a directory; clustersim never replaces a file")
        found = kind_of(path)
        if found != kind and any(path.iterdir()):
            what = (
                f"is a clustersim {found} directory, not a {kind} directory"
                if found
                else f"is not a clustersim {kind} directory (it has no clustersim {MANIFEST})"
            )
            raise refuse(
                f"exists and {what}; clustersim replaces only its own {kind} directories: "
                "choose another path or remove it yourself"
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=f".{path.name}.probe-", dir=path.parent))
    except OSError as e:
        raise refuse(f"cannot write in {path.parent}: {e.strerror or e}") from None
    return path


@contextmanager
def staged(out: str | Path, kind: str = "run") -> Iterator[Path]:
    """Yield an empty temporary directory beside ``out``; on a clean exit it replaces ``out``
    atomically, on any other (an exception, SIGINT, SIGTERM) it is removed."""
    path = check_out(out, kind)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        with _terminate_as_exception():
            yield tmp
            with _signals_held():
                old = None
                if path.exists():
                    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
                    path.rename(old / path.name)
                tmp.rename(path)
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup runs."""


@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` (main thread, default handler only)."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def raise_terminated(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done (the swap is never half-done)."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
