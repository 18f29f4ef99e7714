"""Writing outputs safely: every artefact (JSON metrics, figures, reports, ``.npz`` arrays,
tables) is written to a temporary file beside the target and renamed into place, so an
interrupted run never leaves a half-written file.  :func:`atomic_write` is the one writer; the
text/bytes/JSON/figure helpers are thin wrappers around it.  Every JSON artefact carries
``format_version`` and provenance (versions, seed)."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Union

import numpy as np

ARTIFACT_FORMAT_VERSION = 1


def json_default(o: Any) -> Any:
    """``json.dumps`` fallback for NumPy scalars/arrays and paths."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _umask_mode() -> int:
    """The mode a plain ``open()`` would give a new file (mkstemp always uses 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Union[str, Path], write: Callable[[str], None], suffix: str = ".tmp") -> Path:
    """Call ``write(tmp_name)`` to fill a temporary file beside ``path``, then rename it into place.

    The one place every artefact writer goes through: a crash mid-write leaves the old file (or
    nothing), never a half-written one, and the file gets the usual (umask) permissions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=str(path.parent))
    os.close(fd)
    os.chmod(tmp, _umask_mode())
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: Union[str, Path], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file + rename)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: Union[str, Path], writer: Callable[[BinaryIO], None]) -> Path:
    """Write a binary file atomically by calling ``writer(fileobj)`` on the temporary file.

    Parameters
    ----------
    path : str or Path
        Target file; its folder is created if missing.
    writer : callable
        Called once with the open binary file object, e.g. ``lambda fh: np.savez(fh, **arrays)``
        (a file object rather than a name, so NumPy does not append ``.npz`` to the temp name).

    Returns
    -------
    Path
        ``path``.
    """

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            writer(fh)

    return atomic_write(path, write)


def write_json(path: Union[str, Path], data: dict) -> Path:
    """Write ``data`` (with ``format_version`` added if absent) as pretty JSON, atomically."""
    payload = {"format_version": ARTIFACT_FORMAT_VERSION}
    payload.update(data)
    return atomic_write_text(path, json.dumps(payload, indent=2, default=json_default, allow_nan=True) + "\n")


def save_figure(fig, path: Union[str, Path], dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png"),
                            suffix=".png")
    finally:
        plt.close(fig)


def provenance(seed: Any = None, config: Any = None) -> dict:
    """Versions of the stack, the seed and (if given) a hash of the run's config."""
    import numba
    import scipy

    from neuromorph import __version__

    out = {"neuromorph": __version__, "python": platform.python_version(), "numpy": np.__version__,
           "scipy": scipy.__version__, "numba": numba.__version__, "seed": seed}
    if config is not None:
        blob = json.dumps(config, sort_keys=True, default=json_default).encode()
        out["config_sha256"] = hashlib.sha256(blob).hexdigest()
    return out
