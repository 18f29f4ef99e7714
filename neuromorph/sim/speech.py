"""Offline speech input for the Fig 5–6 experiments: eSpeak NG synthesis and a cochlear filterbank.

The paper trains on a 25-channel spectrogram of recorded speech (a data set this project cannot
download).  Here utterances are synthesised at run time with **eSpeak NG** (Debian package
``espeak-ng``; called through ``subprocess``, nothing is downloaded) with varied voices, speaking
rates, pitches and texts, and turned into 25 envelopes by a cochlear-style filterbank:

* :func:`synthesize` — texts → one mono waveform (float in [−1, 1]) and its sample rate.
* :func:`erb_centres` — channel centre frequencies, equally spaced on the ERB-rate scale.
* :func:`cochlear_filterbank` — 4th-order gammatone band-pass filters (``scipy.signal.gammatone``,
  gain normalised to 1 at each centre), full-wave rectification, zero-phase Bessel low-pass
  (``env_cutoff``; Bessel: little ringing), optional power-law compression, sampled on a time grid of step ``dt`` →
  (T, n_channels) non-negative envelopes.
* :func:`speech_corpus` — a reproducible list of :class:`Utterance` (text, voice, rate, pitch).
* :func:`non_speech_envelope` — the "non-speech" probe of Fig 5D as the authors' code builds it:
  a smoothed step in a couple of envelope channels (default 18 and 20, the code's 19 and 21 in
  1-based numbering) and nothing elsewhere — a spectral pattern speech never has.
* :func:`non_speech_sound` — the same idea as audio: pure tones at the centre frequencies of those
  channels, switched on and off with raised-cosine ramps (the filterbank spreads them into the
  neighbouring channels, so it is a milder novelty than the envelope step).

If ``espeak-ng`` is not on ``PATH`` (or ``$NEUROMORPH_ESPEAK`` does not name it) a
:class:`EspeakNotFoundError` names the package to install (``apt-get install espeak-ng``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

ESPEAK_PACKAGE = "espeak-ng"
ESPEAK_INSTALL_HINT = "install the Debian/Ubuntu package 'espeak-ng' (apt-get install -y espeak-ng)"

#: English voices shipped with the espeak-ng package (no MBROLA voices: those need extra data).
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
#: voice variants (``voice+variant``) shipped with espeak-ng.
VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f4", "f5")

#: Sentences written for this project (no corpus copied).  Some are held out for testing.
SENTENCES = (
    "The morning train was late again, so we walked along the river to the old bridge.",
    "Please put the blue cups on the top shelf before the guests arrive.",
    "A cold wind blew across the open field and the children ran back home.",
    "She counted seven boats in the harbour and one small plane above the hills.",
    "Fresh bread from the village bakery smells wonderful early in the day.",
    "If you turn left at the church, the library is the third building on your right.",
    "Our neighbour grows tomatoes, beans and bright yellow flowers in his garden.",
    "The meeting starts at nine, but nobody has found the key to the room yet.",
    "Heavy rain flooded the narrow street and the buses stopped for an hour.",
    "My sister plays the violin while her friend sings quietly in the kitchen.",
    "Thick fog covered the valley, hiding the farms and the winding road.",
    "He forgot his umbrella on the tram and got soaked on the way to work.",
    "The clock in the hall struck twelve just as the lights went out.",
    "Seven small birds sat on the fence, watching the cat sleep in the sun.",
    "We need four large boxes, some strong tape, and a pen that actually works.",
    "Every summer the lake fills with swimmers, sailing boats and noisy ducks.",
    "The doctor asked him to breathe slowly and count backwards from twenty.",
    "Bright stars appeared one by one above the quiet mountain village.",
    "Could you read the last page again, a little more slowly this time?",
    "The old piano needs tuning, but it still sounds warm and friendly.",
    "Thousands of people gathered in the square to hear the evening concert.",
    "Turn off the oven when the timer rings and let the cake cool down.",
    "A tiny spider built its web between the window and the curtain.",
    "The shop on the corner sells maps, stamps, candles and cheap watches.",
    "Strong coffee and a warm fire made the long winter evening pleasant.",
    "The engineer checked every wire twice before switching the machine on.",
    "Nobody expected the quiet student to win the chess tournament.",
    "Leaves turned red and gold as the days grew shorter and cooler.",
    "The ferry leaves at half past six, so we should pack our bags tonight.",
    "Her grandfather told long stories about sailing ships and distant islands.",
    "Water dripped from the roof into a metal bucket all through the night.",
    "They painted the fence white and planted roses along the garden path.",
    "A loud knock at the door woke the dog, who barked for several minutes.",
    "The museum displays ancient coins, broken pots and a golden crown.",
    "Sharp pencils, clean paper and good light help me think more clearly.",
    "When the bell rang, the pupils rushed outside to play in the snow.",
    "The pilot announced that we would land twenty minutes early.",
    "Soft music drifted from the open window of the house across the road.",
    "He measured the table carefully, then cut the wood with a steady hand.",
    "Wild horses galloped along the beach as the sun rose over the sea.",
)


class EspeakNotFoundError(FileNotFoundError):
    """The ``espeak-ng`` program is not installed (or not on PATH).  A ``FileNotFoundError``, so
    the command line reports it as a one-line user error."""


class SynthesisError(RuntimeError):
    """``espeak-ng`` ran but failed (bad voice, bad option) or produced no audio."""


def find_espeak() -> str:
    """Path of the ``espeak-ng`` executable (``$NEUROMORPH_ESPEAK`` overrides PATH lookup)."""
    override = os.environ.get("NEUROMORPH_ESPEAK")
    exe = shutil.which(override) if override else shutil.which("espeak-ng")
    if exe is None:
        where = f"$NEUROMORPH_ESPEAK={override!r}" if override else "'espeak-ng' on PATH"
        raise EspeakNotFoundError(
            f"speech synthesis needs eSpeak NG but {where} was not found; {ESPEAK_INSTALL_HINT}")
    return exe


def espeak_available() -> bool:
    """True when :func:`find_espeak` would succeed."""
    try:
        find_espeak()
    except EspeakNotFoundError:
        return False
    return True


def _per_text(name: str, value, n: int, kind) -> list:
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        vals = [value] * n
    else:
        vals = list(value)
        if len(vals) == 0:
            raise ValueError(f"{name} must not be empty")
        vals = [vals[i % len(vals)] for i in range(n)]
    out = []
    for v in vals:
        if kind is str:
            if not isinstance(v, str) or not v.strip() or v.startswith("-") or any(ch.isspace() for ch in v):
                raise ValueError(f"{name} must be a non-empty espeak-ng voice name without spaces, got {v!r}")
            out.append(v)
        else:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer, float, np.floating)) or not np.isfinite(v):
                raise ValueError(f"{name} must be a finite number, got {v!r}")
            out.append(int(round(float(v))))
    return out


def read_wav(path: Union[str, Path]) -> tuple:
    """Read a 16-bit PCM WAV file → (float waveform in [−1, 1], mono; sample rate)."""
    with wave.open(str(path), "rb") as w:
        fs = w.getframerate()
        width = w.getsampwidth()
        nch = w.getnchannels()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise SynthesisError(f"{path}: expected 16-bit PCM, got {8 * width}-bit samples")
    data = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    if nch > 1:
        data = data.reshape(-1, nch).mean(axis=1)
    return data, int(fs)


def synthesize(texts: Union[str, Sequence[str]], voices: Union[str, Sequence[str]] = "en-us",
               rate: Union[int, Sequence[int]] = 160, pitch: Union[int, Sequence[int]] = 50, *,
               amplitude: int = 100, gap_s: float = 0.1, timeout_s: float = 60.0) -> tuple:
    """Synthesise ``texts`` with eSpeak NG and return ``(waveform, sample_rate)``.

    ``voices``, ``rate`` (words per minute, 80–450) and ``pitch`` (0–99) are single values or
    sequences cycled over the texts.  Utterances are concatenated with ``gap_s`` seconds of
    silence between them.  The waveform is float64 in [−1, 1], mono (espeak-ng: 22 050 Hz).
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("texts must contain at least one string")
    for t in texts:
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"every text must be a non-empty string, got {t!r}")
    n = len(texts)
    vs = _per_text("voices", voices, n, str)
    rs = _per_text("rate", rate, n, int)
    ps = _per_text("pitch", pitch, n, int)
    for r in rs:
        if not 80 <= r <= 450:
            raise ValueError(f"rate must be 80–450 words per minute, got {r}")
    for p in ps:
        if not 0 <= p <= 99:
            raise ValueError(f"pitch must be in 0–99, got {p}")
    if not 0 <= int(amplitude) <= 200:
        raise ValueError(f"amplitude must be in 0–200, got {amplitude}")
    if not (np.isfinite(gap_s) and gap_s >= 0):
        raise ValueError(f"gap_s must be >= 0 s, got {gap_s}")
    exe = find_espeak()
    pieces, fs0 = [], None
    with tempfile.TemporaryDirectory(prefix="neuromorph-espeak-") as tmp:
        for i, (text, v, r, p) in enumerate(zip(texts, vs, rs, ps)):
            path = Path(tmp) / f"u{i}.wav"
            cmd = [exe, "--stdin", "-v", v, "-s", str(r), "-p", str(p), "-a", str(int(amplitude)), "-w", str(path)]
            try:
                proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=timeout_s)
            except subprocess.TimeoutExpired:
                raise SynthesisError(f"espeak-ng timed out after {timeout_s} s on text {text[:40]!r}") from None
            if proc.returncode != 0 or not path.is_file():
                msg = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
                raise SynthesisError(f"espeak-ng failed for voice {v!r} (rate {r}, pitch {p}): {msg}")
            y, fs = read_wav(path)
            if fs0 is None:
                fs0 = fs
            elif fs != fs0:
                raise SynthesisError(f"espeak-ng changed sample rate between utterances ({fs0} vs {fs})")
            if y.size == 0 or not np.any(y):
                raise SynthesisError(f"espeak-ng produced silence for voice {v!r} and text {text[:40]!r}")
            pieces.append(y)
            if i < n - 1 and gap_s > 0:
                pieces.append(np.zeros(int(round(gap_s * fs))))
    return np.concatenate(pieces), int(fs0)


# ----------------------------------------------------------------------------------------------
# filterbank

def _erb_rate(f):
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(f, dtype=np.float64))


def _erb_rate_inv(e):
    return (10.0 ** (np.asarray(e, dtype=np.float64) / 21.4) - 1.0) / 0.00437


def erb_centres(n_channels: int = 25, fmin: float = 100.0, fmax: float = 7000.0) -> np.ndarray:
    """Centre frequencies (Hz, ascending) equally spaced on the ERB-rate scale, ends included."""
    if int(n_channels) != n_channels or n_channels < 1:
        raise ValueError(f"n_channels must be a positive integer, got {n_channels}")
    if not (np.isfinite(fmin) and np.isfinite(fmax) and 0 < fmin < fmax):
        raise ValueError(f"need 0 < fmin < fmax, got fmin={fmin}, fmax={fmax}")
    if n_channels == 1:
        return np.array([float(np.sqrt(fmin * fmax))])
    return _erb_rate_inv(np.linspace(_erb_rate(fmin), _erb_rate(fmax), int(n_channels)))


def _check_wave(wave_in, fs) -> tuple:
    if isinstance(fs, bool) or not isinstance(fs, (int, float, np.integer, np.floating)) or not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"sample rate fs must be a positive number, got {fs!r}")
    w = np.asarray(wave_in, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"waveform must be 1-D (mono samples), got shape {w.shape}")
    if w.size == 0:
        raise ValueError("waveform is empty")
    if not np.all(np.isfinite(w)):
        bad = int(np.flatnonzero(~np.isfinite(w))[0])
        raise ValueError(f"waveform contains NaN or inf (first at sample {bad})")
    return w, float(fs)


def cochlear_filterbank(wave_in: np.ndarray, fs: float, n_channels: int = 25, fmin: float = 100.0,
                        fmax: float = 7000.0, *, dt: float = 5e-3, env_cutoff: float = 40.0,
                        compression: Optional[float] = 1.0 / 3.0) -> np.ndarray:
    """Cochlear-style envelopes of a mono waveform, shape (T, n_channels), all ≥ 0.

    Channel ``j`` is a 4th-order gammatone band-pass at ``erb_centres(n_channels, fmin, fmax)[j]``
    (gain 1 at its centre); its output is full-wave rectified, low-passed at ``env_cutoff`` Hz
    (4th-order Bessel, −3 dB at ``env_cutoff``, zero phase; negligible overshoot), raised to the power ``compression`` (None = linear) and
    sampled at t = 0, dt, 2dt, … up to the waveform's duration (linear interpolation), so
    ``T = floor(duration / dt) + 1``.  A pure tone of amplitude A at a centre frequency gives a
    linear envelope ≈ (2/π)·A in its channel.
    """
    from scipy import signal

    w, fs = _check_wave(wave_in, fs)
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt}")
    if fmax >= fs / 2:
        raise ValueError(f"fmax={fmax} Hz must be below the Nyquist frequency fs/2={fs / 2} Hz")
    if not (np.isfinite(env_cutoff) and 0 < env_cutoff < fs / 2):
        raise ValueError(f"env_cutoff must be in (0, fs/2), got {env_cutoff}")
    if compression is not None and not (np.isfinite(compression) and compression > 0):
        raise ValueError(f"compression must be a positive exponent or None, got {compression}")
    centres = erb_centres(n_channels, fmin, fmax)
    duration = (w.size - 1) / fs
    t_out = np.arange(int(np.floor(duration / dt + 1e-9)) + 1) * dt
    t_in = np.arange(w.size) / fs
    lp = signal.bessel(4, env_cutoff, btype="low", norm="mag", fs=fs, output="sos")
    out = np.empty((t_out.size, centres.size))
    for j, fc in enumerate(centres):
        b, a = signal.gammatone(fc, "iir", fs=fs)
        sos = signal.tf2sos(b, a)
        _, h = signal.sosfreqz(sos, worN=[fc], fs=fs)
        y = signal.sosfilt(sos, w) / np.abs(h[0])
        if w.size > 3 * (2 * lp.shape[0] + 1):
            env = signal.sosfiltfilt(lp, np.abs(y))
        else:  # too short for filtfilt padding
            env = signal.sosfilt(lp, np.abs(y))
        np.clip(env, 0.0, None, out=env)
        out[:, j] = np.interp(t_out, t_in, env)
    if compression is not None:
        out **= compression
    return out


# ----------------------------------------------------------------------------------------------
# corpus and probe sound

@dataclass(frozen=True)
class Utterance:
    """One synthesised utterance and how it was made."""

    text: str
    voice: str
    rate: int
    pitch: int
    wave: np.ndarray
    fs: int

    @property
    def duration_s(self) -> float:
        return self.wave.size / self.fs


def corpus_specs(seed: int, n: int, sentences: Sequence[str] = SENTENCES) -> list:
    """``n`` reproducible (text, voice, rate, pitch) choices: voice ``base+variant``, rate
    120–220 wpm, pitch 25–75."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if len(sentences) == 0:
        raise ValueError("sentences must not be empty")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 5005]))
    order = rng.permutation(len(sentences))
    specs = []
    for i in range(n):
        if i and i % len(sentences) == 0:
            order = rng.permutation(len(sentences))
        text = sentences[order[i % len(sentences)]]
        base = VOICES[rng.integers(len(VOICES))]
        var = VARIANTS[rng.integers(len(VARIANTS))]
        voice = f"{base}+{var}" if var else base
        specs.append((text, voice, int(rng.integers(120, 221)), int(rng.integers(25, 76))))
    return specs


def speech_corpus(seed: int, duration_s: float, *, sentences: Sequence[str] = SENTENCES,
                  max_utterances: int = 10_000) -> list:
    """Synthesise varied utterances (texts, voices, rates, pitches drawn from ``seed``) until
    their total duration reaches ``duration_s``; returns a list of :class:`Utterance`."""
    if not (np.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a positive number of seconds, got {duration_s}")
    find_espeak()
    out, total, i, batch = [], 0.0, 0, 16
    while total < duration_s:
        if i >= max_utterances:
            raise SynthesisError(f"{max_utterances} utterances give only {total:.1f} s < {duration_s} s")
        for text, voice, rate, pitch in corpus_specs(seed, i + batch, sentences)[i:]:
            y, fs = synthesize(text, voice, rate, pitch)
            out.append(Utterance(text=text, voice=voice, rate=rate, pitch=pitch, wave=y, fs=fs))
            total += y.size / fs
            i += 1
            if total >= duration_s:
                break
    return out


def non_speech_sound(fs: int = 22050, duration_s: float = 0.7, *, channels: Sequence[int] = (18, 20),
                     n_channels: int = 25, fmin: float = 100.0, fmax: float = 7000.0,
                     onset_s: float = 0.2, offset_s: float = 0.5, ramp_s: float = 0.02,
                     amplitude: float = 0.3) -> tuple:
    """The "non-speech" probe (Fig 5D): pure tones at the centre frequencies of ``channels`` of
    the filterbank ``erb_centres(n_channels, fmin, fmax)``, on from ``onset_s`` to ``offset_s``
    with raised-cosine ramps of ``ramp_s``; each tone has peak ``amplitude``.
    Returns ``(waveform, fs)``."""
    if isinstance(fs, bool) or int(fs) != fs or fs <= 0:
        raise ValueError(f"fs must be a positive integer sample rate, got {fs!r}")
    if not (0 <= onset_s < offset_s <= duration_s):
        raise ValueError(f"need 0 <= onset_s < offset_s <= duration_s, got {onset_s}, {offset_s}, {duration_s}")
    if not (0 <= ramp_s <= (offset_s - onset_s) / 2):
        raise ValueError(f"ramp_s must be in [0, (offset_s-onset_s)/2], got {ramp_s}")
    if not (np.isfinite(amplitude) and amplitude > 0):
        raise ValueError(f"amplitude must be positive, got {amplitude}")
    chans = [int(c) for c in channels]
    if not chans or any(c < 0 or c >= n_channels for c in chans):
        raise ValueError(f"channels must be indices in [0, {n_channels}), got {list(channels)}")
    centres = erb_centres(n_channels, fmin, fmax)
    if centres[max(chans)] >= fs / 2:
        raise ValueError(f"channel frequency {centres[max(chans)]:.0f} Hz is above fs/2")
    t = np.arange(int(round(duration_s * fs))) / fs
    gate = np.clip(np.minimum(t - onset_s, offset_s - t) / max(ramp_s, 1e-12), 0.0, 1.0)
    gate = np.where((t >= onset_s) & (t <= offset_s), gate, 0.0)
    gate = 0.5 - 0.5 * np.cos(np.pi * gate)
    y = sum(np.sin(2 * np.pi * centres[c] * t) for c in chans) * amplitude * gate
    return y, int(fs)


def non_speech_envelope(n_frames: int = 61, *, n_channels: int = 25, channels: Sequence[int] = (18, 20),
                        onset: int = 10, offset: int = 50, level: float = 1.0, smooth_frames: float = 2.0) -> np.ndarray:
    """Envelope-domain "non-speech" sound (the Fig 5 code's probe), shape (n_frames, n_channels):
    ``level`` in ``channels`` for frames ``onset <= t < offset``, 0 elsewhere, smoothed in time
    by a Gaussian of ``smooth_frames`` (0 = a sharp step).  Non-negative."""
    from scipy.ndimage import gaussian_filter1d

    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames must be a positive integer, got {n_frames}")
    if not (0 <= onset < offset <= n_frames):
        raise ValueError(f"need 0 <= onset < offset <= n_frames, got {onset}, {offset}, {n_frames}")
    chans = [int(c) for c in channels]
    if not chans or any(c < 0 or c >= n_channels for c in chans):
        raise ValueError(f"channels must be indices in [0, {n_channels}), got {list(channels)}")
    if not (np.isfinite(level) and level > 0):
        raise ValueError(f"level must be positive, got {level}")
    if not (np.isfinite(smooth_frames) and smooth_frames >= 0):
        raise ValueError(f"smooth_frames must be >= 0, got {smooth_frames}")
    env = np.zeros((int(n_frames), int(n_channels)))
    env[int(onset):int(offset), chans] = float(level)
    if smooth_frames > 0:
        env = gaussian_filter1d(env, float(smooth_frames), axis=0, mode="constant")
    return np.clip(env, 0.0, None)
