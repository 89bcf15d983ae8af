"""Where rendered audio goes while it is still being made: a file that grows, or a pipe.

Each sink takes stereo float32 blocks, (2, n), with `write`, and `close` leaves what was
written playable. The endless stream (`ambient.stream`), live play (`ambient.live`) and the
studio's Play forever all write through these.
"""

from __future__ import annotations

import numpy as np


class FileSink:
    """A file that grows as the stream plays (WAV, FLAC, OGG or MP3; OGG and MP3 play while growing)."""

    def __init__(self, path, rate: int):
        import soundfile as sf

        from ambient.audio import output_format

        self.path = path
        fmt, subtype = output_format(path)
        self.file = sf.SoundFile(str(path), "w", samplerate=rate, channels=2, format=fmt, subtype=subtype)

    def write(self, block: np.ndarray) -> None:
        import errno

        import soundfile as sf

        try:
            self.file.write(block.T)
        except (sf.LibsndfileError, RuntimeError) as e:  # libsndfile says only "System error."
            raise OSError(errno.EIO, f"cannot write any more ({str(e).strip().rstrip('.')}: is the disk full?)") \
                from None

    def close(self) -> None:
        try:
            self.file.close()
        except (RuntimeError, OSError):
            pass                                         # what was written stays; the error was already said


class PipeSink:
    """16-bit WAV to a pipe (standard output): a header that claims the longest length, then
    frames as they come, which ffmpeg, sox and players read as an endless stream."""

    def __init__(self, out, rate: int):
        import struct

        self.out = out
        header = b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " + struct.pack(
            "<IHHIIHH", 16, 1, 2, rate, rate * 4, 4, 16) + b"data" + struct.pack("<I", 0xFFFFFFFF)
        self.out.write(header)

    def write(self, block: np.ndarray) -> None:
        pcm = np.clip(block.T * 32767.0, -32768, 32767).astype("<i2")
        self.out.write(pcm.tobytes())
        self.out.flush()

    def close(self) -> None:
        self.out.flush()


def open_sink(output: str, rate: int):
    """The sink a person named: `-` for WAV on standard output, else a file that grows; a file
    that cannot be made is one line naming it."""
    import sys

    from ambient.errors import AmbientError

    try:
        return PipeSink(sys.stdout.buffer, rate) if output == "-" else FileSink(output, rate)
    except (OSError, RuntimeError) as e:
        raise AmbientError(f"{'standard output' if output == '-' else output}: cannot write ({e})") from None
