"""MIDI files in and out (symusic), folded into the shared note list.

Reading merges every track, folds the sustain pedal into note durations and leaves
drums out unless asked. Writing uses 1 ms ticks (480 ticks per quarter at 125 bpm) so
the 10 ms grid of the codec survives a round trip exactly, and replaces the file only
once it is complete.
"""

from __future__ import annotations

import unicodedata
from bisect import bisect_right
from collections import defaultdict
from pathlib import Path

import symusic

from ambient.errors import AmbientError
from ambient.files import partial_path
from ambient.notes import Note, sort_notes

TICKS_PER_QUARTER = 480
TEMPO_BPM = 125.0  # with 480 ticks per quarter: one tick is exactly 1 ms
_SECONDS_PER_TICK = 60.0 / TEMPO_BPM / TICKS_PER_QUARTER


def read_midi(path: str | Path, *, drums: bool = False, require_notes: bool = True) -> list[Note]:
    """Every note of a MIDI file, in seconds, pedal folded in, drums left out by default."""
    path = Path(path)
    score = _parse(path)
    notes: list[Note] = []
    drum_notes = 0
    for track in score.tracks:
        if track.is_drum and not drums:
            drum_notes += len(track.notes)
            continue
        notes.extend(_track_notes(track))
    if require_notes and not notes:
        if drum_notes:
            raise AmbientError(f"{path}: only drum notes ({drum_notes}); nothing pitched to continue")
        raise AmbientError(f"{path}: MIDI file has no notes")
    return sort_notes(notes)


def _parse(path: Path) -> symusic.Score:
    if not path.exists():
        raise AmbientError(f"{path}: no such file")
    if path.is_dir():
        raise AmbientError(f"{path}: is a folder, not a MIDI file")
    with path.open("rb") as f:
        head = f.read(4)
    if head != b"MThd":
        raise AmbientError(f"{path}: not a MIDI file (no MThd header)")
    try:
        return symusic.Score(str(path)).to("second")
    except Exception as e:  # symusic raises bare RuntimeErrors for damaged files
        raise AmbientError(f"{path}: damaged MIDI file ({e})") from None


def _track_notes(track) -> list[Note]:
    raw = track.notes.numpy() if len(track.notes) else None
    if raw is None:
        return []
    starts = raw["time"].astype(float)
    ends = starts + raw["duration"].astype(float)
    pitches = raw["pitch"].astype(int)
    velocities = raw["velocity"].astype(int)
    if len(track.pedals):
        pedal = track.pedals.numpy()
        ends = fold_pedal(starts, ends, pitches, pedal["time"].astype(float),
                          (pedal["time"] + pedal["duration"]).astype(float))
    program = int(track.program)
    return [
        Note(float(s), float(e), int(p), int(v), program)
        for s, e, p, v in zip(starts, ends, pitches, velocities)
        if e > s and v > 0
    ]


def fold_pedal(starts, ends, pitches, pedal_downs, pedal_ups) -> list[float]:
    """Note ends with the sustain pedal applied.

    A note released while the pedal is down keeps sounding until the pedal lifts, or
    until the same pitch is struck again, whichever comes first (a piano re-strikes the
    string; it cannot sound twice).
    """
    onsets_by_pitch: dict[int, list[float]] = defaultdict(list)
    for s, p in sorted(zip(starts, pitches)):
        onsets_by_pitch[int(p)].append(float(s))
    intervals = sorted(zip(pedal_downs, pedal_ups))
    downs = [d for d, _ in intervals]
    folded = []
    for s, e, p in zip(starts, ends, pitches):
        e = float(e)
        i = bisect_right(downs, e) - 1
        if i >= 0 and intervals[i][0] <= e < intervals[i][1]:
            held_until = float(intervals[i][1])
            onsets = onsets_by_pitch[int(p)]
            j = bisect_right(onsets, float(s))
            if j < len(onsets):
                held_until = min(held_until, max(e, onsets[j]))
            e = max(e, held_until)
        folded.append(e)
    return folded


def write_midi(path: str | Path, notes: list[Note], *, text: str | None = None, grid=None) -> Path:
    """Write notes as a MIDI file, one track per program, atomically.

    Without a grid, 1 ms ticks at a nominal tempo (exact for the codec). With one (a
    `transcribe.grid.BeatGrid`), its tempo map, so a DAW's bars follow the music; the
    notes sound at the same times either way, within a tick."""
    path = Path(path)
    score = symusic.Score(TICKS_PER_QUARTER)
    if grid is None:
        score.tempos.append(symusic.Tempo(0, TEMPO_BPM))
        ticks = _ticks
    else:
        for beat, bpm in grid.tempo_map():
            score.tempos.append(symusic.Tempo(beat * TICKS_PER_QUARTER, bpm))
        ticks = lambda seconds: int(round(grid.beats_at(seconds) * TICKS_PER_QUARTER))  # noqa: E731
    by_program: dict[int, list[Note]] = defaultdict(list)
    for n in notes:
        by_program[n.program].append(n)
    for program in sorted(by_program):
        track = symusic.Track(name=f"program {program}", program=program, is_drum=False)
        for n in sort_notes(by_program[program]):
            start = ticks(n.start)
            track.notes.append(symusic.Note(start, max(1, ticks(n.end) - start), n.pitch, n.velocity))
        score.tracks.append(track)
    if text:
        score.markers.append(symusic.TextMeta(0, midi_text(text)))
    with partial_path(path, suffix=".mid") as tmp:
        score.dump_midi(str(tmp))
    return path


def midi_text(text: str) -> str:
    """`text` in ASCII, as a MIDI file's text events should be (the standard says ASCII;
    readers guess Latin-1 or UTF-8, so 'take · 2' came back as 'take Â· 2'): accents are
    dropped from their letters, dashes and the middle dot become '-', anything else '?'."""
    text = text.translate({0xB7: "-", 0x2013: "-", 0x2014: "-", 0x2018: "'", 0x2019: "'", 0x201C: '"', 0x201D: '"'})
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return folded.encode("ascii", "replace").decode("ascii")


def _ticks(seconds: float) -> int:
    return int(round(seconds / _SECONDS_PER_TICK))
