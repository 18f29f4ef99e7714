"""Readers of the user's data files: ``.npy``, ``.npz``, ``.csv``, ``.wav`` → :class:`Signal`.

Shapes.  ``.npy`` and the ``x`` array of ``.npz``: (T,) one channel, (T, M), or (trials, T, M).
``.csv``: one column per channel, an optional header row; a header column named ``t``,
``time``, ``time_s`` or ``seconds`` holds sample times (uniform steps) and gives ``dt``.
``.wav``: one signal per audio channel, integer PCM scaled to [−1, 1).

Sample step.  From the file (``.npz`` key ``dt``, a CSV time column, the WAV sample rate), else
``--dt``; a ``--dt`` that contradicts the file is an error, not a silent choice.  If neither
says, the caller's ``default_dt`` (the network's step) is used and the record says so
(``dt_source = "assumed"``).

Every failure is a :class:`DataError` naming the file and what was expected.
"""
from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Optional, Union

import numpy as np

from neuromorph.data.signal import DataError, Signal

SUFFIXES = (".npy", ".npz", ".csv", ".wav")
TIME_COLUMNS = ("t", "time", "time_s", "seconds")
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_RIFF_MAGIC = b"RIFF"


def load_signal(path: Union[str, Path], *, dt: Optional[float] = None, default_dt: Optional[float] = None) -> Signal:
    """Read a data file into a :class:`Signal` of shape (trials, T, M).

    Parameters
    ----------
    path : str or Path
        ``.npy``, ``.npz``, ``.csv`` or ``.wav`` file.
    dt : float, optional
        Sample step (s) when the file does not state one (``--dt``).
    default_dt : float, optional
        Step assumed when neither the file nor ``dt`` gives one (the network's step).

    Raises
    ------
    DataError
        Missing or unreadable file, unsupported type, bad shape or dtype, non-finite values,
        contradicting or missing sample step.
    """
    p = Path(path)
    if dt is not None and not (isinstance(dt, (int, float)) and np.isfinite(dt) and dt > 0):
        raise DataError(f"--dt must be a positive number of seconds, got {dt!r}")
    if not p.exists():
        raise DataError(f"data file not found: {p}")
    if p.is_dir():
        raise DataError(f"{p} is a directory; --data takes a file ({', '.join(SUFFIXES)})")
    suffix = p.suffix.lower()
    readers = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv, ".wav": _read_wav}
    if suffix not in readers:
        raise DataError(f"{p.name}: unsupported data file type {suffix or '(no suffix)'!r}; "
                        f"expected one of {', '.join(SUFFIXES)}")
    try:
        head = p.open("rb").read(8)
    except OSError as exc:
        raise DataError(f"cannot read data file {p}: {exc.strerror or exc}") from None
    x, file_dt, channels, meta = readers[suffix](p, head)
    if file_dt is not None:
        if not (np.isfinite(file_dt) and file_dt > 0):
            raise DataError(f"{p.name}: stored sample step dt = {file_dt!r} is not a positive number of seconds")
        if dt is not None and abs(dt - file_dt) > 1e-9 * file_dt:
            raise DataError(f"--dt {dt:g} contradicts the sample step {file_dt:g} s stored in {p.name}; "
                            f"drop --dt (the file's step is used and the signal resampled to the network's)")
        step, how = float(file_dt), "file"
    elif dt is not None:
        step, how = float(dt), "flag"
    elif default_dt is not None:
        step, how = float(default_dt), "assumed"
    else:
        raise DataError(f"{p.name} does not state its sample step; pass --dt SECONDS")
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[None, :, None]
    elif x.ndim == 2:
        x = x[None]
    elif x.ndim != 3:
        raise DataError(f"{p.name}: array of shape {x.shape}; expected (T,), (T, M) or (trials, T, M)")
    return Signal(x, step, source=p.name, channels=channels or (), dt_source=how, meta=meta)


def _what_text(head: bytes) -> str:
    try:
        head.decode("utf-8")
        return "a text file"
    except UnicodeDecodeError:
        return "not a NumPy file"


def _check_numeric(a: np.ndarray, name: str) -> np.ndarray:
    if a.dtype == object:
        raise DataError(f"{name} holds Python objects (dtype object); expected a numeric array")
    if a.dtype.kind not in "biuf":
        raise DataError(f"{name} has dtype {a.dtype}; expected real numbers (int or float)")
    return a.astype(np.float64)


def _read_npy(p: Path, head: bytes):
    if not head.startswith(_NPY_MAGIC):
        hint = "; for CSV text use a .csv name" if _what_text(head) == "a text file" else ""
        raise DataError(f"{p.name} is {_what_text(head)}, not a NumPy .npy array{hint}")
    from neuromorph.arrayfile import ArrayFileError, check_npy

    try:
        check_npy(p)  # a damaged header or a size larger than the data: refused before np.load trusts it
        a = np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{p.name} holds Python objects (dtype object); expected a numeric array") from None
        raise DataError(f"{p.name}: not a readable .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{p.name}: truncated or damaged .npy file ({exc})") from None
    except ArrayFileError as exc:
        raise DataError(str(exc)) from None
    return _check_numeric(a, p.name), None, None, {}


def _read_npz(p: Path, head: bytes):
    if not head.startswith(_ZIP_MAGIC):
        raise DataError(f"{p.name} is {_what_text(head)}, not a NumPy .npz archive")
    from neuromorph.arrayfile import check_npz

    check_npz(p, error=DataError)  # damaged headers, sizes beyond the data: refused before np.load
    try:
        with np.load(p, allow_pickle=False) as z:
            files = list(z.files)
            if "x" not in files:
                raise DataError(f"{p.name} has no array 'x' (it holds: {', '.join(files) or 'nothing'}); "
                                f"save the signal as np.savez(FILE, x=signal, dt=seconds)")
            x = _check_numeric(z["x"], f"{p.name}['x']")
            file_dt = None
            if "dt" in files:
                d = z["dt"]
                if d.size != 1 or d.dtype.kind not in "iuf":
                    raise DataError(f"{p.name}['dt'] must be one number (seconds), got shape {d.shape} dtype {d.dtype}")
                file_dt = float(d.reshape(()))
            channels = None
            if "channels" in files:
                ch = z["channels"]
                if ch.dtype.kind not in "US":
                    raise DataError(f"{p.name}['channels'] must be strings, got dtype {ch.dtype}")
                channels = tuple(str(c) for c in ch.reshape(-1))
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{p.name} holds Python objects (dtype object); expected numeric arrays") from None
        raise DataError(f"{p.name}: not a readable .npz archive ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise DataError(f"{p.name}: truncated or damaged .npz archive ({exc})") from None
    return x, file_dt, channels, {}


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _read_csv(p: Path, head: bytes):
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{p.name} is not a UTF-8 text file; a .csv must hold comma-separated numbers") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{p.name} holds no data rows")
    try:
        dialect = csv.Sniffer().sniff(lines[0] if len(lines) == 1 else "\n".join(lines[:5]), delimiters=",;\t ")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delim, skipinitialspace=True))
    rows = [[c.strip() for c in r if c.strip() != "" or delim != " "] for r in rows]
    header = None
    if rows and not all(_is_number(c) for c in rows[0]):
        header, rows = rows[0], rows[1:]
    if not rows:
        raise DataError(f"{p.name} has a header but no data rows")
    width = len(header) if header is not None else len(rows[0])
    data = np.empty((len(rows), width))
    for i, r in enumerate(rows):
        line_no = i + 1 + (header is not None)
        if len(r) != width:
            raise DataError(f"{p.name}: data line {line_no} has {len(r)} values, expected {width}")
        for j, c in enumerate(r):
            try:
                data[i, j] = float(c)
            except ValueError:
                raise DataError(f"{p.name}: data line {line_no}, column {j + 1}: {c!r} is not a number") from None
    file_dt = None
    names = list(header) if header is not None else None
    if names is not None:
        tcols = [j for j, n in enumerate(names) if n.strip().lower() in TIME_COLUMNS]
        if len(tcols) > 1:
            raise DataError(f"{p.name}: more than one time column ({', '.join(names[j] for j in tcols)})")
        if tcols:
            j = tcols[0]
            t = data[:, j]
            steps = np.diff(t)
            if t.size < 2 or not np.all(steps > 0):
                raise DataError(f"{p.name}: time column {names[j]!r} must increase from row to row")
            med = float(np.median(steps))
            if np.max(np.abs(steps - med)) > 1e-3 * med:
                raise DataError(f"{p.name}: time column {names[j]!r} is not uniformly sampled "
                                f"(steps {steps.min():g}..{steps.max():g} s); resample the data first")
            file_dt = med
            data = np.delete(data, j, axis=1)
            del names[j]
    if data.shape[1] == 0:
        raise DataError(f"{p.name} has a time column but no signal columns")
    return data, file_dt, tuple(names) if names else None, {}


def _read_wav(p: Path, head: bytes):
    if not head.startswith(_RIFF_MAGIC):
        raise DataError(f"{p.name} is not a RIFF/WAVE file")
    import warnings

    from scipy.io import wavfile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, a = wavfile.read(p)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{p.name}: unreadable WAV file ({exc})") from None
    if rate <= 0:
        raise DataError(f"{p.name}: WAV sample rate {rate} Hz is not positive")
    kind, bits = a.dtype.kind, a.dtype.itemsize * 8
    if kind == "u":
        x = (a.astype(np.float64) - 2 ** (bits - 1)) / 2 ** (bits - 1)
    elif kind == "i":
        x = a.astype(np.float64) / 2 ** (bits - 1)
    elif kind == "f":
        x = a.astype(np.float64)
    else:
        raise DataError(f"{p.name}: WAV sample type {a.dtype} is not supported")
    return x, 1.0 / float(rate), None, {"wav_rate_hz": int(rate)}


def describe(sig: Signal) -> str:
    """One line for logs: shape, step, duration."""
    return (f"{sig.source}: {sig.n_trials} trial(s) x {sig.n_steps} samples x {sig.n_channels} channel(s), "
            f"dt = {sig.dt:g} s ({sig.dt_source}), {sig.duration_s:g} s")


def signal_to_json(sig: Signal) -> str:
    return json.dumps({"source": sig.source, "shape": list(sig.x.shape), "dt": sig.dt, "dt_source": sig.dt_source,
                       "channels": list(sig.channels), **sig.meta})
