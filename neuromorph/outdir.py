"""Output-directory policy: nothing lost, nothing stale, nothing half-written.

One place decides what a command may do with ``--out`` and when a stage directory counts as
finished:

* :func:`check_out` runs before any work.  ``--out`` must be creatable and writable (probed by
  really creating and removing an entry, since ``os.access`` says yes to root on a read-only
  bind mount and no path component may be a regular file); an existing non-empty directory is
  refused unless ``--force`` (replace it) or, for a command that can continue, ``--resume``.
* :class:`OutputRun` holds a command's ``--out`` while it works.  The directory carries a
  marker file (:data:`PARTIAL`) while work is under way; a run that fails or is interrupted
  removes what it created and puts back what ``--force`` moved aside.  On success the marker is
  replaced by ``manifest.json`` (:data:`MANIFEST`) — written last: files, sizes, SHA-256,
  neuromorph version, config hash, the command, ``complete: true``.
* :func:`run_stage` is the same contract for the stages inside a pipeline, with a temporary
  sibling renamed into place on completion (``pipeline --resume`` reuses every stage whose
  manifest has the same config hash).
* :func:`require_complete` is what every reader of a stage directory calls: a directory without
  a manifest is an incomplete run, a file changed since the manifest was written is stale.

A directory killed with SIGKILL keeps its marker and has no manifest, so no later command
accepts it; rerun the command with ``--force`` (or ``--resume`` where offered).
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

MANIFEST = "manifest.json"
PARTIAL = ".neuromorph-partial.json"
MANIFEST_FORMAT_VERSION = 1

# what each kind of stage directory is, for messages ("X is the output of ...")
WRITERS = {
    "train": "'neuromorph train'", "quantize": "'neuromorph quantize'", "deploy": "'neuromorph deploy'",
    "emulate": "'neuromorph emulate'", "verify": "'neuromorph verify'", "pipeline": "'neuromorph pipeline'",
    "study": "'neuromorph study'", "reproduce": "'neuromorph reproduce'", "encode": "'neuromorph encode'",
    "quantize-report": "'neuromorph quantize --report-only'",
}


class OutputDirError(ValueError):
    """``--out`` cannot be used as asked (reported as one line, exit status 2)."""


class IncompleteRunError(ValueError):
    """A stage directory that is unfinished, damaged, stale or of another kind."""


# ------------------------------------------------------------------------------ hashing, manifest

def sha256_file(path: Union[str, Path]) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config_hash(config: Any) -> Optional[str]:
    """SHA-256 of a JSON rendering (sorted keys, paths as text) of ``config``; None for None."""
    if config is None:
        return None
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _listed_files(d: Path) -> list[Path]:
    """Every regular file under ``d`` except the manifest, marker and temporary leftovers."""
    out = []
    for p in sorted(d.rglob("*")):
        if not p.is_file() or p.is_symlink():
            continue
        rel = p.relative_to(d)
        if rel.as_posix() in (MANIFEST, PARTIAL) or any(part.startswith(".") for part in rel.parts):
            continue  # hidden: markers, atomic-write temporaries, staging siblings
        out.append(p)
    return out


def write_manifest(d: Union[str, Path], kind: str, *, command: Optional[Sequence[str]] = None,
                   config: Any = None, extra: Optional[dict] = None) -> Path:
    """Write ``d/manifest.json`` (atomically) describing every file under ``d``.

    Parameters
    ----------
    d : the finished stage directory.
    kind : what wrote it (a key of :data:`WRITERS`).
    command : the command line (``["neuromorph", ...]``).
    config : the options or config the run was made with (hashed, not stored).
    extra : more JSON-able facts (e.g. ``{"figure": "fig3"}``).
    """
    from neuromorph import __version__
    from neuromorph.artifacts import atomic_write_text

    d = Path(d)
    files = {p.relative_to(d).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)}
             for p in _listed_files(d)}
    body = {"format_version": MANIFEST_FORMAT_VERSION, "kind": kind, "neuromorph": __version__,
            "config_sha256": config_hash(config), "command": list(command) if command else None,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files, "complete": True}
    body.update(extra or {})
    return atomic_write_text(d / MANIFEST, json.dumps(body, indent=2, sort_keys=False) + "\n")


def read_manifest(d: Union[str, Path]) -> Optional[dict]:
    """The manifest of ``d``; None when there is none.  A damaged one raises IncompleteRunError."""
    p = Path(d) / MANIFEST
    if not p.is_file():
        return None
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise IncompleteRunError(f"{p} is damaged ({type(exc).__name__}): rerun the command that writes "
                                 f"{Path(d)}") from None
    if not isinstance(m, dict) or m.get("complete") is not True or not isinstance(m.get("files"), dict):
        raise IncompleteRunError(f"{p} does not mark a complete run: rerun the command that writes {Path(d)}")
    return m


def _writer(kind: Any) -> str:
    return WRITERS.get(kind, repr(kind))


def require_complete(d: Union[str, Path], kinds: Union[str, Iterable[str]], *, what: str = "directory",
                     check_hashes: bool = True) -> dict:
    """Check that ``d`` is a finished stage directory of one of ``kinds``; return its manifest.

    Raises
    ------
    FileNotFoundError
        ``d`` does not exist ("{what} not found: d").
    IncompleteRunError
        no manifest (an interrupted or foreign directory), a damaged manifest, another kind, or a
        file missing or changed since the manifest was written.
    """
    d = Path(d)
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    if not d.exists():
        raise FileNotFoundError(f"{what} not found: {d}")
    if not d.is_dir():
        raise IncompleteRunError(f"{d} is a file; expected the {what} written by {_writer(kinds[0])}")
    m = read_manifest(d)
    if m is None:
        why = "an incomplete run (interrupted or failed; no manifest)" if (d / PARTIAL).exists() else \
            "an incomplete run (no manifest)"
        raise IncompleteRunError(f"{d} is {why}: rerun the command that writes it")
    if m.get("kind") not in kinds:
        raise IncompleteRunError(f"{d} is the output of {_writer(m.get('kind'))}, not of "
                                 f"{' or '.join(_writer(k) for k in kinds)}")
    if check_hashes:
        for rel, info in m["files"].items():
            p = d / rel
            if not p.is_file():
                raise IncompleteRunError(f"{p} is missing (listed in {d / MANIFEST}): rerun the command that writes {d}")
            if not isinstance(info, dict) or p.stat().st_size != info.get("size") or sha256_file(p) != info.get("sha256"):
                raise IncompleteRunError(f"{p} changed after the run wrote it (size or SHA-256 differ from "
                                         f"{d / MANIFEST}): rerun the command that writes {d}")
    return m


def require_file_complete(path: Union[str, Path]) -> None:
    """A file given by path: refuse it when its folder is an unfinished run or the file is stale.

    A file in a folder with neither marker nor manifest is the user's own file and accepted.
    """
    p = Path(path)
    d = p.parent
    if (d / PARTIAL).exists() and not (d / MANIFEST).exists():
        raise IncompleteRunError(f"{p} belongs to an incomplete run ({d} has no manifest): rerun the command "
                                 "that writes it")
    m = read_manifest(d)
    if m is None or not p.is_file():
        return
    info = m["files"].get(p.name)
    if info is not None and (p.stat().st_size != info.get("size") or sha256_file(p) != info.get("sha256")):
        raise IncompleteRunError(f"{p} changed after the run wrote it (size or SHA-256 differ from {d / MANIFEST})")


# ------------------------------------------------------------------------------ checking --out

def _is_empty_dir(p: Path) -> bool:
    return p.is_dir() and not any(p.iterdir())


def _nearest_existing(p: Path) -> Path:
    q = p
    while not q.exists() and not q.is_symlink():
        if q.parent == q:
            break
        q = q.parent
    return q


def _probe_writable(d: Path, flag: str, out: Path) -> None:
    """Create and remove an entry in ``d``: the one test that also holds for root and read-only mounts."""
    try:
        probe = tempfile.mkdtemp(prefix=".neuromorph-probe-", dir=str(d))
        os.rmdir(probe)
    except OSError as exc:
        reason = {errno.EROFS: "read-only file system", errno.EACCES: "permission denied",
                  errno.EPERM: "permission denied", errno.ENOSPC: "no space left on device",
                  errno.EDQUOT: "disk quota exceeded"}.get(exc.errno, exc.strerror or type(exc).__name__)
        where = "" if d == out else f" ({d} is where it would be created)"
        raise OutputDirError(f"{flag} {out}: cannot write there{where}: {reason}") from None


def check_out(out: Union[str, Path], *, force: bool = False, resume: bool = False, can_resume: bool = False,
              kind: Optional[str] = None, inputs: Sequence[Union[str, Path]] = (), flag: str = "--out") -> Path:
    """Validate an output directory before any work; return it as a Path.

    Parameters
    ----------
    out : the directory the user named.
    force : ``--force`` was given: an existing directory will be replaced.
    resume : ``--resume`` was given: an existing directory of the same ``kind`` is continued.
    can_resume : whether the command offers ``--resume`` (mentioned in the refusal).
    kind : what the command writes (for ``--resume``: the directory must be of this kind).
    inputs : the command's input paths; ``out`` may not be one of them, inside one or contain one.
    flag : the option's name, for messages.

    Raises
    ------
    OutputDirError
        With one line naming ``flag``, the path and the problem.
    """
    out = Path(out)
    if force and resume:
        raise OutputDirError("--force and --resume exclude each other (replace the directory, or continue it)")
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"{flag} {out} is an existing file, not a directory; choose another {flag}")
    anc = _nearest_existing(out if out.exists() else out.parent)
    if not anc.is_dir():
        raise OutputDirError(f"{flag} {out}: {anc} is a file, so no directory can be created below it")
    ro = out.resolve()
    for i in inputs:
        ri = Path(i).resolve()
        if ro == ri or ri.is_relative_to(ro) or (ri.is_dir() and ro.is_relative_to(ri)):
            raise OutputDirError(f"{flag} {out} overlaps the input {i}; write the output somewhere else")
    _probe_writable(anc, flag, out)
    if out.is_dir():
        _probe_writable(out, flag, out)
        if not _is_empty_dir(out):
            if resume:
                _check_resumable(out, kind, flag)
            elif not force:
                extra = " or --resume to continue it" if can_resume else ""
                try:
                    m = read_manifest(out)
                except IncompleteRunError:
                    m = None
                if m is not None:
                    what = f"holds a finished run of {_writer(m.get('kind'))}"
                elif (out / PARTIAL).exists():
                    what = "holds an incomplete run"
                else:
                    what = "already exists and is not empty"
                raise OutputDirError(f"{flag} {out} {what}; pass --force to replace it{extra}, "
                                     f"or choose another {flag}")
    return out


def check_out_file(out: Union[str, Path], *, force: bool = False, inputs: Sequence[Path] = ()) -> None:
    """Check an ``--out`` that names one file, before any work: not a directory, not one of the
    inputs, an existing file only with ``--force``, its directory existing and writable (the file
    itself is written atomically by the command, so a failure leaves the old one or none)."""
    out = Path(out)
    if out.is_dir():
        raise OutputDirError(f"--out {out} is a directory; it names the file to write")
    if any(Path(i).resolve() == out.resolve() for i in inputs):
        raise OutputDirError(f"--out {out} is also an input of this command")
    if out.exists() and not force:
        raise OutputDirError(f"--out {out} exists; pass --force to replace it")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputDirError(f"--out {out}: directory {parent} not found")
    _probe_writable(parent, "--out", out)


def _check_resumable(out: Path, kind: Optional[str], flag: str) -> None:
    """``--resume`` continues only a directory this kind of command wrote."""
    found = None
    try:
        m = read_manifest(out)
        found = m.get("kind") if m else None
    except IncompleteRunError:
        pass
    if found is None and (out / PARTIAL).is_file():
        try:
            found = json.loads((out / PARTIAL).read_text(encoding="utf-8")).get("kind")
        except (OSError, ValueError, AttributeError):
            found = None
    if found != kind:
        what = f"the output of {_writer(found)}" if found else "not a directory neuromorph wrote"
        raise OutputDirError(f"--resume: {flag} {out} is {what}, not a {kind} run; pass --force to replace it "
                             f"or choose another {flag}")


# ------------------------------------------------------------------------------ the command's run

def _dir_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


@dataclass
class OutputRun:
    """A command's ``--out`` while it works (see the module docstring).

    Use :meth:`begin` after :func:`check_out`, then :meth:`commit` or :meth:`abort`.
    """

    out: Path
    kind: str
    force: bool = False
    resume: bool = False
    command: Optional[list] = None
    config: Any = None
    extra: dict = field(default_factory=dict)
    _created: list = field(default_factory=list)
    _moved_aside: Optional[Path] = None
    _began: bool = False

    def begin(self) -> Path:
        """Make ``out`` ready: create it (and missing parents), move a replaced one aside, drop
        an old manifest when resuming, and write the in-progress marker."""
        from neuromorph.artifacts import atomic_write_text

        out = self.out
        missing = []
        q = out
        while not q.exists():
            missing.append(q)
            q = q.parent
        if out.is_dir() and self.force and not _is_empty_dir(out):
            aside = out.parent / f".{out.name}.replaced-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.rename(out, aside)
            self._moved_aside = aside
            missing = [out]
        for p in reversed(missing):
            p.mkdir()
            self._created.append(p)
        if self.resume:
            (out / MANIFEST).unlink(missing_ok=True)  # incomplete again until this run finishes
        atomic_write_text(out / PARTIAL, json.dumps({"kind": self.kind, "pid": os.getpid(),
                                                     "started_at": time.time()}) + "\n")
        self._began = True
        return out

    def commit(self) -> Path:
        """Write the manifest (last), drop the marker and what ``--force`` replaced."""
        write_manifest(self.out, self.kind, command=self.command, config=self.config, extra=self.extra)
        (self.out / PARTIAL).unlink(missing_ok=True)
        if self._moved_aside is not None:
            shutil.rmtree(self._moved_aside, ignore_errors=True)
            self._moved_aside = None
        self._began = False
        return self.out

    def abort(self, keep_partial: bool = False) -> None:
        """Undo :meth:`begin` after a failure.

        ``keep_partial``: leave the directory (with its marker, without a manifest) for
        ``--resume`` — what a resumable command does when interrupted.
        """
        if not self._began:
            return
        self._began = False
        if keep_partial:
            return
        if self._created:
            shutil.rmtree(self._created[0], ignore_errors=True)  # the top-most folder this run created
        else:  # an existing (empty or resumed) directory: only the marker is ours to remove
            if not self.resume:
                for p in list(self.out.iterdir()):
                    shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)
        if self._moved_aside is not None:
            shutil.rmtree(self.out, ignore_errors=True)
            os.rename(self._moved_aside, self.out)
            self._moved_aside = None

    def prune_to(self, keep: Iterable[str]) -> None:
        """Delete every file and folder of ``out`` except the names in ``keep`` (and the marker)."""
        keep = set(keep) | {PARTIAL}
        for p in list(self.out.iterdir()):
            if p.name not in keep:
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


# ------------------------------------------------------------------------------ stages inside a run

def run_stage(path: Union[str, Path], kind: str, compute: Callable[[Path], Any], load: Callable[[Path], Any], *,
              config: Any = None, resume: bool = False, command: Optional[Sequence[str]] = None) -> tuple[Any, bool]:
    """Compute one stage into a temporary sibling of ``path`` and rename it into place.

    Parameters
    ----------
    path : the stage directory (e.g. ``out/train``).
    kind : its kind (the manifest's ``kind``; what readers require).
    compute : ``compute(tmp_dir) -> result``; writes the stage's files into ``tmp_dir``.
    load : ``load(path) -> result`` of a finished stage (for ``resume``).
    config : what the stage depends on; a finished stage is reused only when its manifest has
        the same config hash.
    resume : reuse a finished stage instead of recomputing it.

    Returns
    -------
    (result, reused)
    """
    path = Path(path)
    want = config_hash(config)
    if resume and path.is_dir():
        try:
            m = require_complete(path, kind)
        except IncompleteRunError:
            m = None
        if m is not None and m.get("config_sha256") == want:
            return load(path), True
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=str(path.parent)))
    os.chmod(tmp, _dir_mode())
    try:
        result = compute(tmp)
        write_manifest(tmp, kind, command=command, config=config)
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(path, old)
            os.rename(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result, False


__all__ = ["IncompleteRunError", "MANIFEST", "OutputDirError", "OutputRun", "PARTIAL", "check_out", "config_hash",
           "read_manifest", "require_complete", "require_file_complete", "run_stage", "sha256_file",
           "write_manifest"]
