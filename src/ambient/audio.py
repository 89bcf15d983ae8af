"""Audio files: decoding to mono at the transcriber's rate, atomic writes, blockwise reads.

Reading and writing go through soundfile (libsndfile 1.2: WAV, FLAC, OGG Vorbis, MP3);
M4A/AAC through ffmpeg when it is installed. Decoding reads in blocks and resamples
through a soxr stream, so a one-hour file needs memory for its mono output plus one
block, never the whole multichannel original. A writer works on a hidden partial file
beside the target and renames it into place only when complete, so a crash never
leaves half a file under the real name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from ambient.errors import AmbientError
from ambient.extras import lazy
from ambient.files import partial_path

sf = lazy("soundfile", "reading and writing audio")  # the render extra; a base install never opens audio

FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
           ".mp3": ("MP3", "MPEG_LAYER_III")}


def output_format(path: str | Path) -> tuple[str, str]:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise AmbientError(f"{path}: unknown audio format {suffix or '(none)'} (use {', '.join(FORMATS)})")
    return FORMATS[suffix]


@contextmanager
def audio_writer(path: str | Path, rate: int, channels: int = 2, *, scratch: bool = False) -> Iterator[sf.SoundFile]:
    """A SoundFile open for writing; `scratch` files are 32-bit float WAV for later passes."""
    path = Path(path)
    fmt, subtype = ("WAV", "FLOAT") if scratch else output_format(path)
    with partial_path(path) as partial:
        with sf.SoundFile(partial, "w", samplerate=rate, channels=channels, format=fmt, subtype=subtype) as f:
            yield f


def read_blocks(path: str | Path, frames: int) -> Iterator[np.ndarray]:
    """(channels, n) float32 blocks of an audio file."""
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AmbientError(f"{path}: cannot read audio ({unreadable_reason(e)})") from None
    with f:
        for block in f.blocks(blocksize=frames, dtype="float32", always_2d=True):
            yield block.T


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """The whole file as (channels, n) float32 and its sample rate."""
    path = Path(path)
    if not path.exists():
        raise AmbientError(f"{path}: no such file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AmbientError(f"{path}: cannot read audio ({unreadable_reason(e)})") from None
    return data.T, rate


TRANSCRIBER_RATE = 22050
NATIVE = (".wav", ".flac", ".ogg", ".mp3")
VIA_FFMPEG = (".m4a", ".aac", ".mp4")
AUDIO_SUFFIXES = NATIVE + VIA_FFMPEG
BLOCK = 1 << 18


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native libraries print straight to file descriptor 2.

    mpg123 (inside libsndfile) writes notes like "Illegal Audio-MPEG-Header" for damaged
    files, libjack and ALSA several lines when no server answers; we report those cases
    ourselves in one line, so their chatter would only bury that line.
    """
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def decode(path: str | Path, rate: int = TRANSCRIBER_RATE) -> np.ndarray:
    """Mono float32 samples at `rate`; one clear AmbientError for anything unreadable."""
    with quiet_native_stderr():
        return _decode(Path(path), rate)


def _decode(path: Path, rate: int) -> np.ndarray:
    import soxr

    if not path.exists():
        raise AmbientError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AmbientError(f"{path}: empty file (0 bytes)")
    suffix = path.suffix.lower()
    if suffix in VIA_FFMPEG:
        return _decode_with_ffmpeg(path, rate)
    if suffix not in NATIVE:
        raise AmbientError(f"{path}: not an audio file we read ({', '.join(AUDIO_SUFFIXES)})")
    try:
        source = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AmbientError(f"{path}: not readable audio ({unreadable_reason(e)})") from None
    pieces = []
    with source:
        if source.frames == 0 or source.samplerate <= 0:
            raise AmbientError(f"{path}: no audio frames")
        stream = soxr.ResampleStream(source.samplerate, rate, 1, dtype="float32") \
            if source.samplerate != rate else None
        present = mp3_frames_present(path) if suffix == ".mp3" else None
        frames = source.frames if present is None else min(source.frames, present)
        if frames == 0:
            raise AmbientError(f"{path}: no complete MP3 frames")
        try:
            for block in source.blocks(blocksize=BLOCK, frames=frames, dtype="float32", always_2d=True):
                with np.errstate(invalid="ignore"):
                    mono = block.mean(axis=1, dtype=np.float32)
                broken = np.flatnonzero(~np.isfinite(mono))
                if broken.size and not pieces and broken[0] == 0:
                    raise AmbientError(f"{path}: damaged audio (its samples are not numbers: NaN or infinite)")
                if broken.size:  # a truncated MP3 promises frames it does not hold: keep the rest
                    mono = mono[:broken[0]]
                pieces.append(stream.resample_chunk(mono) if stream else mono)
                if broken.size:
                    break
        except (sf.LibsndfileError, RuntimeError) as e:
            if not pieces:
                raise AmbientError(f"{path}: damaged audio ({_short(e)})") from None
            # a truncated file: keep what decoded cleanly
        if stream:
            pieces.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    if not audio.size:
        raise AmbientError(f"{path}: no audio frames")
    return audio


_MP3_BITRATES = {1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],   # MPEG-1 layer III
                 2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]}     # MPEG-2 and 2.5
_MP3_RATES = {3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000]}


def mp3_frames_present(path: Path) -> int | None:
    """Samples (per channel) that the complete MPEG layer III frames in the file hold.

    A truncated MP3 keeps the length its header promised, and libsndfile then returns
    whatever memory held for the missing part (NaNs one time, zeros or noise another).
    Walking the frame headers tells how much audio is really there. None when the file
    does not parse as plain layer III frames (then libsndfile's count stands).
    """
    data = path.read_bytes()
    pos = 0
    if data[:3] == b"ID3" and len(data) >= 10:  # ID3v2 tag: syncsafe size, optional footer
        size = (data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F)
        pos = 10 + size + (10 if data[5] & 0x10 else 0)
    frames = samples_per_frame = 0
    while pos + 4 <= len(data):
        b1, b2 = data[pos + 1], data[pos + 2]
        if data[pos] != 0xFF or (b1 & 0xE0) != 0xE0:
            break
        version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
        bitrate_index, rate_index = (b2 >> 4) & 0xF, (b2 >> 2) & 3
        if layer != 1 or version == 1 or bitrate_index in (0, 15) or rate_index == 3:
            break
        bitrate = _MP3_BITRATES[1 if version == 3 else 2][bitrate_index] * 1000
        rate = _MP3_RATES[version][rate_index]
        length = (144 if version == 3 else 72) * bitrate // rate + ((b2 >> 1) & 1)
        if pos + length > len(data):
            break  # a frame cut short: the audio ends before it
        samples_per_frame = 1152 if version == 3 else 576
        frames += 1
        pos += length
    if frames == 0:
        return None
    return max(0, frames - 1) * samples_per_frame  # the first frame may be the Xing/Info header


def _decode_with_ffmpeg(path: Path, rate: int) -> np.ndarray:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AmbientError(f"{path}: M4A/AAC needs ffmpeg, which is not installed (apt-get install ffmpeg)")
    result = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate), "-f", "f32le", "-"],
                            capture_output=True)
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise AmbientError(f"{path}: not readable audio ({message[-1] if message else 'ffmpeg failed'})")
    return np.frombuffer(result.stdout, dtype=np.float32).copy()


def _short(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def unreadable_reason(e: Exception) -> str:
    """libsndfile's complaint about a file, said once and plainly. It repeats the path
    ("Error opening '/x.mp3': ..."), and for bytes its MP3 reader cannot parse it says the
    file "does not exist or is not a regular file (possibly a pipe?)", which misleads."""
    reason = _short(e)
    if reason.startswith("Error opening ") and "': " in reason:
        reason = reason.split("': ", 1)[1]
    if "possibly a pipe" in reason or reason.rstrip(".").lower() == "format not recognised":
        return "not a format we recognise: no WAV, FLAC, OGG or MP3 data in it"
    return reason.rstrip(".")


def write_mono(path: str | Path, audio: np.ndarray, rate: int = TRANSCRIBER_RATE) -> Path:
    """The pipeline's decoded audio: mono 16-bit WAV, written whole or not at all."""
    with audio_writer(path, rate, channels=1) as out:
        out.write(np.clip(audio, -1, 1))
    return Path(path)
