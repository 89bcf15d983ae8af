"""basic-pitch (Spotify, ICASSP 2022) through its bundled ONNX model, without TensorFlow."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from ambient.audio import TRANSCRIBER_RATE
from ambient.errors import AmbientError
from ambient.notes import Note, sort_notes

WINDOWS_PER_CALL = 16  # about 30 s of audio per model call keeps memory flat on long files


def _basic_pitch():
    import warnings

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # on import it warns about TensorFlow and CoreML, which we do not use
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import basic_pitch
            from basic_pitch import constants, inference, note_creation
    except ImportError:
        raise AmbientError("transcription needs basic-pitch, installed without TensorFlow: "
                           "`make setup`, or pip install --no-deps basic-pitch==0.4.0") from None
    finally:
        root.setLevel(level)
    return basic_pitch, constants, inference, note_creation


class BasicPitchModel:
    """basic-pitch's ICASSP 2022 model through onnxruntime: audio -> frame and onset activations."""

    def __init__(self, threads: int = 0):
        """`threads` 0: onnxruntime's default, a thread per core; a pool worker given one
        core passes 1, or N workers on N cores would each run N threads and fight."""
        basic_pitch, self.c, self.inference, self.note_creation = _basic_pitch()
        self.model = self.inference.Model(basic_pitch.ICASSP_2022_MODEL_PATH)
        if threads:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = threads
            self.model.model = ort.InferenceSession(str(basic_pitch.ICASSP_2022_MODEL_PATH), options,
                                                    providers=["CPUExecutionProvider"])

    def posteriors(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        """{'note', 'onset'}: (frames, 88) activations in 0..1, and 'times' of each frame.

        Windows overlap by 30 frames; each window's middle is written straight into arrays
        sized for the whole file, so an hour-long record holds its activations once (no
        lists of batches, no padded copy of the audio). The pitch-bend contour is not kept:
        nothing here uses it, and `contour` is an empty (frames, 0) array that tells
        basic-pitch's own note creation only how many frames there are.
        """
        c = self.c
        overlap_frames = 30
        half = overlap_frames // 2
        overlap = overlap_frames * c.FFT_HOP
        hop = c.AUDIO_N_SAMPLES - overlap
        audio = audio.astype(np.float32, copy=False)
        total = len(audio) + overlap // 2  # the audio behind overlap // 2 samples of silence
        starts = list(range(0, total, hop)) or [0]
        frames = int(np.floor(len(audio) * (c.ANNOTATIONS_FPS / c.AUDIO_SAMPLE_RATE)))
        out = {"note": np.zeros((frames, 88), np.float32), "onset": np.zeros((frames, 88), np.float32)}
        at = 0  # frames written
        for i in range(0, len(starts), WINDOWS_PER_CALL):
            batch = np.zeros((len(starts[i:i + WINDOWS_PER_CALL]), c.AUDIO_N_SAMPLES, 1), np.float32)
            for row, s in enumerate(starts[i:i + WINDOWS_PER_CALL]):
                lo, hi = s - overlap // 2, s - overlap // 2 + c.AUDIO_N_SAMPLES  # in the audio's own samples
                chunk = audio[max(lo, 0):max(hi, 0)]
                batch[row, max(0, -lo):max(0, -lo) + len(chunk), 0] = chunk
            predicted = self.model.predict(batch)
            kept = None
            for key in out:
                middle = predicted[key][:, half:-half, :].reshape(-1, 88)
                kept = min(len(middle), frames - at)
                out[key][at:at + kept] = middle[:kept]
            at += kept
        out["contour"] = np.zeros((frames, 0), np.float32)
        out["times"] = self.note_creation.model_frames_to_time(frames)
        return out


@dataclass(frozen=True)
class BasicPitchDefaults:
    """basic-pitch's own note creation at its published defaults: the baseline."""
    onset_threshold: float = 0.5
    frame_threshold: float = 0.3
    minimum_note_ms: float = 127.7
    name = "basic-pitch"

    def settings(self) -> dict:
        return asdict(self)

    def notes(self, model: BasicPitchModel, post: dict, audio: np.ndarray) -> list[Note]:
        frames = int(round(self.minimum_note_ms / 1000 * TRANSCRIBER_RATE / model.c.FFT_HOP))
        _, events = model.note_creation.model_output_to_notes(
            post, onset_thresh=self.onset_threshold, frame_thresh=self.frame_threshold, min_note_len=frames,
            include_pitch_bends=False, melodia_trick=True)
        return sort_notes([Note(float(s), float(e), int(p), int(np.clip(round(a * 127), 1, 127)))
                           for s, e, p, a, _ in events if e > s])
