"""Peak memory of transcribing a long record: our posteriors beside basic-pitch's own inference.

Both run the same ONNX model on the same audio, each in a fresh process, and report how
far the process's peak resident set grew past where it stood once the model was loaded
and the audio decoded. basic-pitch's `run_inference` keeps every window's outputs in
lists, joins them and keeps the pitch-bend contour (and reads the file again itself: about
100 MB of its figure at 20 minutes is that second copy of the audio); ours writes each
window straight into whole-file arrays. A third process runs our whole transcription (profile choice and
clean-up included); this record is heard as a pad, so a fourth runs it through the pluck profile
with its ends at a release in every room (each key's level in the audio, `sound.pitch_levels`,
is held for the whole file). Prints one JSON line.

    python benchmarks/transcription_memory.py [--minutes 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

MEASURE = """
import resource, sys, numpy as np
from ambient.audio import decode
from ambient.transcribe import BasicPitchModel, transcribe_audio, transcriber
model = BasicPitchModel(threads=1)
audio = decode(sys.argv[2])
model.posteriors(audio[:22050 * 5])  # the runtime's own arenas warmed up on both sides
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[1] == "basic-pitch":
    model.inference.run_inference(sys.argv[2], model.model)
elif sys.argv[1] == "ours":
    model.posteriors(audio)
elif sys.argv[1] == "ours, whole transcription":
    transcribe_audio(audio, None, model)
else:
    transcribe_audio(audio, transcriber("ambient", "pluck", release_room=0), model)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def record(path: Path, minutes: float) -> None:
    """Slow chords of detuned partials with a little noise: a long ambient piece's load."""
    import numpy as np
    import soundfile as sf

    rate, rng = 22050, np.random.default_rng(0)
    with sf.SoundFile(str(path), "w", rate, 1, "FLOAT") as f:
        for _ in range(int(minutes * 6)):  # 10 s blocks
            t = np.arange(rate * 10) / rate
            block = sum(0.1 * np.sin(2 * np.pi * 110 * 2 ** (int(rng.integers(0, 36)) / 12) * t) for _ in range(4))
            f.write((block + 0.01 * rng.standard_normal(len(t))).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "long.wav"
        record(wav, args.minutes)
        grown = {kind: int(subprocess.run([sys.executable, "-c", MEASURE, kind, str(wav)], check=True,
                                          capture_output=True, text=True).stdout.split()[-1])
                 for kind in ("basic-pitch", "ours", "ours, whole transcription",
                              "ours, whole transcription, pluck profile, ends at a release")}
    print(json.dumps({"benchmark": "transcription_memory", "minutes": args.minutes,
                      "peak_growth_mb": grown, "ratio_ours_to_basic_pitch":
                      round(grown["ours"] / max(grown["basic-pitch"], 1), 2)}))


if __name__ == "__main__":
    main()
