"""Frame and onset activations to notes, for sustained and reverberant sound.

Pure functions from arrays to notes, each step testable alone (after basic-pitch's
note_creation.py, with the opposite bias: trust the frames, use onsets only to place
and split).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from ambient.audio import TRANSCRIBER_RATE
from ambient.notes import Note, sort_notes
from ambient.transcribe.sound import DRY_FALL_DB, pitch_levels, room_fall

LOWEST_PITCH = 21  # basic-pitch's 88 note bins start at A0
HARMONICS = (12, 19, 24, 28, 31, 36)  # partials 2, 3, 4, 5, 6 and 8, in semitones


@dataclass(frozen=True)
class AmbientCleanup:
    """Note creation for sustained, reverberant sound. `profiles.PROFILES` holds the tuned presets;
    any field can be set on top of one (`ambient transcribe --set KEY=VALUE`)."""
    frame_high: float = 0.45      # a note needs its activation above this somewhere
    frame_low: float = 0.22       # ... and lasts while it stays above this
    merge_gap: float = 0.25       # seconds: dips inside one held note shorter than this are bridged
    release_ratio: float = 0.5    # the note ends where activation falls below this × the level it held
    release_hold: float = 0.3     # ... and stays below it this many seconds (a dip is not an end);
    knee_ratio: float = 0.0       # ... but is placed back where it last stood at this × its held level
    #                               (where the fall began; 0: at the crossing itself)
    knee_settle: float = 0.0      # seconds after a note's start whose level the knee forgets (an attack's
    #                               own decay); 0: the knee is judged against the note's whole peak
    dry_knee_ratio: float = 0.0   # in a dry room (`sound.room_fall`), knee_ratio is this instead, and
    dry_knee_settle: float = 0.0  # ... knee_settle this: no tail follows a note there, so a fall that
    #                               levels off is the instrument's own decay (0: every room alike)
    release_drop: float = 0.0     # dB: a note's end moves later, to where its own pitch's level first
    release_span: float = 0.3     # ... falls this much within this many seconds (let go), after
    #                               knee_settle, up to where its activation fell for good
    #                               (`release_end`). 0: the knee's end stands
    release_room: float = 0.0     # ... only in rooms that let sound fall at least this many dB in half a
    #                               second (`sound.room_fall`): a hall's tail swells and fades at random
    release_guard: float = 0.0    # ... and not where the level already falls this × faster after the
    #                               knee's end than before it (the knee caught a slow release)
    release_reach: float = 0.0    # ... and this many seconds past it (a held note decays out of the
    #                               model's hearing before it is let go),
    release_rise: float = 6.0     # ... while the level stays under this many dB over its level there
    #                               (a held note only decays: a rise is another sound)
    onset_threshold: float = 0.5  # an onset peak this strong near a note's start places it
    quiet_high: float = 0.0       # a note that never reaches frame_high, but reaches this × it, is kept
    quiet_onset: float = 0.5      # ... if an onset this strong starts it and no other pitch explains it:
    quiet_rival: float = 1.0      # ... none, at its peak, is this × as loud (`explained`); quiet_high 0:
    #                               only notes that reach frame_high
    restrike_onset: float = 0.5   # an onset peak this strong inside a note may be a re-strike,
    restrike_rise: float = 0.25   # ... if the note's activation rises this much around it
    restrike_window: float = 0.05  # ... within this many seconds either side (slow attacks rise slowly)
    restrike_share: float = 0.0   # ... and its onset is at least this × the strongest other pitch's there
    attack_search: float = 0.5    # seconds a start may move back to the foot of a slow swell
    onset_search: float = 0.08    # seconds around a note's start searched for its onset peak
    min_note: float = 0.1         # seconds; shorter notes are fragments
    harmonic_ratio: float = 0.7   # a note a partial (HARMONICS) over a louder one,
    #                               overlapping it, peaking under this × its peak, is its echo
    adaptive: float = 0.5         # 0: the frame thresholds as given; 1: scaled by how sure the model
    #                               is of this file's clearest notes (see `file_scale`)
    profile: str = "custom"       # the preset these settings came from, recorded in each MIDI file
    name = "basic-pitch+ambient"

    def settings(self) -> dict:
        return asdict(self)

    def for_file(self, note: np.ndarray) -> "AmbientCleanup":
        """These settings with the frame thresholds fitted to one file's activations."""
        k = file_scale(note, self)
        return replace(self, frame_high=self.frame_high * k, frame_low=self.frame_low * k)

    def for_room(self, audio: np.ndarray, rate: int) -> "AmbientCleanup":
        """These settings for the room the file was played in. The room knobs are spent on the
        way (set to 0), so the settings a MIDI file records give its notes again."""
        if self.dry_knee_ratio <= 0 and (self.release_drop <= 0 or self.release_room <= 0):
            return self
        fall = room_fall(audio, rate)
        spent = replace(self, dry_knee_ratio=0.0, dry_knee_settle=0.0, release_room=0.0)
        if self.dry_knee_ratio > 0 and fall >= DRY_FALL_DB:
            spent = replace(spent, knee_ratio=self.dry_knee_ratio, knee_settle=self.dry_knee_settle)
        if fall < self.release_room:
            spent = replace(spent, release_drop=0.0)
        return spent

    def notes(self, model, post: dict, audio: np.ndarray) -> list[Note]:
        s = self.for_room(audio, TRANSCRIBER_RATE).for_file(post["note"])
        frames = len(post["times"])
        pitch_level = pitch_levels(audio, TRANSCRIBER_RATE, frames, LOWEST_PITCH) if s.release_drop > 0 else None
        return activations_to_notes(post["note"], post["onset"], post["times"], s, level_db(audio, frames),
                                    pitch_level)


SETTINGS = tuple(name for name in AmbientCleanup.__dataclass_fields__ if name != "profile")  # the knobs


CLEAR_NOTE = 0.8  # the model's typical activation on a clear, dry note (measured on the tuning set)


def file_scale(note: np.ndarray, s: AmbientCleanup) -> float:
    """How much to lower the frame thresholds for a file whose notes the model hears less surely.

    Reverb, vibrato and choirs blur the model's view: on such files even the clearest
    notes peak lower (the 90th percentile of the loudest pitch per sounding frame fell from
    0.83 dry to 0.63 for a choir in a hall), so fixed thresholds lose whole notes. The scale
    is that percentile against a clear note's, never above 1, moved by `adaptive`.
    """
    loudest = note.max(axis=1) if note.size else np.zeros(0)
    sounding = loudest[loudest > s.frame_low]
    if sounding.size < 10:
        return 1.0
    ratio = min(1.0, float(np.percentile(sounding, 90)) / CLEAR_NOTE)
    return max(0.25, 1.0 - s.adaptive * (1.0 - ratio))


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def held_regions(act: np.ndarray, s: AmbientCleanup, fps: float) -> list[tuple[int, int]]:
    """Hysteresis: runs above frame_low that reach frame_high, with short gaps bridged."""
    kept = [(a, b) for a, b in runs(act > s.frame_low) if act[a:b].max() > s.frame_high]
    merged: list[tuple[int, int]] = []
    for a, b in kept:
        if merged and a - merged[-1][1] <= s.merge_gap * fps:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def split_restrikes(act: np.ndarray, onset: np.ndarray, a: int, b: int, s: AmbientCleanup, fps: float,
                    rival: np.ndarray | None = None) -> list[int]:
    """Frames inside [a, b) where the same pitch is struck again.

    A strong onset peak alone is not enough: when other notes start, the onset head
    also flickers on pitches that are merely held, and their activation jumps with it.
    A real re-strike makes this pitch's own activation jump, and its onset is about as
    strong as the strongest onset of the moment (`rival`: the strongest onset of any
    other pitch, per frame). On the tuning set's synth pluck and bell, where the limit was
    chosen, 98 % of true re-strikes reach 0.8 of it and 30 % of the false ones fall short;
    on all seven plucked tuning timbres, 96 % and 23 % (benchmarks/transcription_variants.py
    --restrikes).
    """
    lo, hi = a + int(s.min_note * fps), b - int(s.min_note * fps)
    if hi <= lo:
        return []
    seg = onset[lo:hi]
    peaks = np.flatnonzero((seg[1:-1] > s.restrike_onset) & (seg[1:-1] >= seg[:-2]) & (seg[1:-1] > seg[2:])) + 1 + lo
    w = max(1, int(s.restrike_window * fps))
    near = max(1, int(round(0.035 * fps)))  # onsets of one chord land within a few frames
    return [int(p) for p in peaks if act[p:p + w + 1].max() - act[max(0, p - w):p].min() > s.restrike_rise
            and (rival is None or onset[p] >= s.restrike_share * rival[max(0, p - near):p + near + 1].max())]


def explained(note: np.ndarray, b: int, a: int, e: int, ratio: float) -> bool:
    """Whether pitch bin b's activation over [a, e) is another pitch's doing: at its peak, a pitch
    a partial below it (its echo), a partial above it (the model's octave-down mistake: a weak
    note an octave or a twelfth under a strong one) or a semitone away (a bin's bleed) is at
    least `ratio` × as loud."""
    p = a + int(note[a:e, b].argmax())
    others = [b + d for d in (*HARMONICS, *(-h for h in HARMONICS), 1, -1) if 0 <= b + d < note.shape[1]]
    return bool(others) and float(note[p, others].max()) >= ratio * float(note[p, b])


def foot_of_swell(act: np.ndarray, start: int, s: AmbientCleanup, fps: float) -> int:
    """Walk back from where a note crossed frame_low to where its activation began to rise."""
    floor = 0.5 * s.frame_low
    limit = max(0, start - int(s.attack_search * fps))
    i = start
    while i > limit and act[i - 1] > floor and act[i - 1] < act[i]:
        i -= 1
    return i


def note_end(act: np.ndarray, start: int, end: int, s: AmbientCleanup, fps: float) -> int:
    """Where a note stops being fed: the first fall below `release_ratio` × the level held so far
    that lasts `release_hold`.

    The model keeps hearing a pitch while its reverb tail rings, at a falling level; the
    tail's start, not its end, is where the note was let go. Measured on the tuning set,
    the activation at the true note-off is still 0.7-0.95 of its peak.
    """
    seg = act[start:end]
    below = seg < s.release_ratio * np.maximum.accumulate(seg)
    hold = max(1, int(round(s.release_hold * fps)))
    # the first frame i with below[i:i+hold] all True (a window cut by the note's end counts
    # when all of it is below, so a long hold means "the last fall, after which it never recovers")
    run = np.convolve(below.astype(np.int32), np.ones(hold, np.int32), "full")[hold - 1:]
    ends = np.flatnonzero(run >= np.minimum(hold, len(seg) - np.arange(len(seg))))
    cross = int(ends[0]) if ends.size and ends[0] > 0 else len(seg)
    if s.knee_ratio > s.release_ratio:
        # the release began where the level last held up, not where it had fallen far. A plucked
        # or struck note decays from its attack and then holds, so once `knee_settle` seconds have
        # passed, "held up" is judged against the level held since then, not against the attack,
        # or every such note ends early. Unlike a sliding window it never forgets the held level,
        # so a slow hall tail is not mistaken for holding
        held = held_level(seg[:cross], int(round(s.knee_settle * fps)))
        above = np.flatnonzero(seg[:cross] >= min(s.knee_ratio, 1.0) * held)
        cross = int(above[-1]) + 1
    return start + cross


def release_end(level: np.ndarray, act: np.ndarray, start: int, end: int, stop: int, s: AmbientCleanup,
                fps: float, limit: int | None = None) -> int:
    """A note's end (`end`, from the knee), moved later to where its own pitch's level in the
    audio (`level`, dB per frame) first falls `release_drop` dB within `release_span` seconds.

    A plucked string decays slowly while it is held (5-15 dB a second) and several times
    faster once it is let go, and the model's activation gives way long before: the knee ends
    such a note early. The fall is looked for from the knee's end, counting one still under way
    there (one over before it is the attack's early decay: the knee heard the note held on past
    it), but not before `knee_settle` seconds into the note (the attack's own decay is not a
    release) unless the knee ended sooner (a short note let go already), up to where the
    activation fell for good (the end without a knee, within [start, stop)) and
    `release_reach` seconds on: a held note decays out of the model's hearing before it is let
    go. That last stretch stops where the level rises `release_rise` dB over its level where
    the activation fell (a held note only decays: a rise is another sound in the key's band)
    and at `limit` (the pitch's next note). Where the level already falls `release_guard` ×
    faster just after the knee's end than just before it, the knee caught the release (a
    synthesizer's slow one), and the end stands.
    """
    if s.release_drop <= 0:
        return end
    w = max(1, int(round(s.release_span * fps)))
    fell = note_end(act, start, stop, replace(s, knee_ratio=0.0), fps)
    reach = min(fell + int(round(s.release_reach * fps)), len(level) if limit is None else limit)
    if reach > fell:
        rises = np.flatnonzero(level[fell:reach] > level[fell] + s.release_rise)
        reach = fell + int(rises[0]) if rises.size else reach
    lo = max(min(start + int(round(s.knee_settle * fps)), end), end - w)
    hi = min(reach, len(level) - w)
    if hi <= lo:
        return end
    if s.release_guard > 0 and start <= end - w and end + w < len(level):
        before, after = level[end - w] - level[end], level[end] - level[end + w]
        if after >= s.release_guard * max(before, 1.0):  # a level that held counts as falling 1 dB
            return end
    steep = np.flatnonzero(level[lo + w:hi + w] - level[lo:hi] < -s.release_drop)
    return max(end, min(lo + int(steep[0]), reach)) if steep.size else end


def held_level(seg: np.ndarray, settle: int) -> np.ndarray:
    """The peak of seg so far, counted afresh from frame `settle` on (0: from the first frame)."""
    held = np.maximum.accumulate(seg)
    if 0 < settle < len(seg):
        held[settle:] = np.maximum.accumulate(seg[settle:])
    return held


def level_db(audio: np.ndarray, frames: int) -> np.ndarray:
    """The mix's level per model frame in dB below its loudest frame."""
    hop = max(1, len(audio) // max(frames, 1))
    usable = audio[:hop * frames] if len(audio) >= hop * frames else np.pad(audio, (0, hop * frames - len(audio)))
    framed = usable.reshape(frames, hop)  # a view: no copy of an hour of audio
    rms = np.sqrt(np.einsum("ij,ij->i", framed, framed, dtype=np.float64) / hop + 1e-12)
    return 20 * np.log10(rms / rms.max())


def activations_to_notes(note: np.ndarray, onset: np.ndarray, times: np.ndarray, s: AmbientCleanup,
                         level: np.ndarray | None = None, pitch_level: np.ndarray | None = None) -> list[Note]:
    """Notes from the model's activations. level: the mix's level per frame in dB (`level_db`),
    for velocities; pitch_level: each pitch's own level per frame (`sound.pitch_levels`), for
    ends at a release (`release_end`)."""
    fps = 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else 86.0
    frame_end = lambda i: float(times[min(i, len(times) - 1)]) if i < len(times) else float(times[-1]) + 1 / fps
    found: list[tuple[int, int, int, float]] = []  # (bin, start frame, end frame, peak)
    strongest, second = strongest_two(onset) if s.restrike_share > 0 else (None, None)
    for b in range(note.shape[1]):
        act, ons = note[:, b], onset[:, b]
        rival = None if strongest is None else rival_onsets(strongest, second, b)
        loud = held_regions(act, s, fps)
        regions = sorted(loud + quiet_regions(note, ons, b, loud, s, fps))
        for r, (a, e) in enumerate(regions):
            after = regions[r + 1][0] if r + 1 < len(regions) else len(act)  # the pitch's next note
            cuts = [a] + split_restrikes(act, ons, a, e, s, fps, rival) + [e]
            for k, (start, stop) in enumerate(zip(cuts[:-1], cuts[1:])):
                peak = float(act[start:stop].max())
                end = note_end(act, start, stop, s, fps)
                if pitch_level is not None:
                    # never into what sounds next on this key: a re-strike's cut, or its next note
                    end = release_end(pitch_level[:, b], act, start, end, stop, s, fps,
                                      stop if stop < e else after)
                # a start goes onto the onset peak the model saw nearby; for a slow swell with
                # no clear onset, back to the foot of the swell
                foot = foot_of_swell(act, start, s, fps) if k == 0 else start
                w = int(s.onset_search * fps)
                window = ons[max(0, start - w):start + w + 1]
                if window.size and window.max() > s.onset_threshold:
                    start = max(0, start - w) + int(window.argmax())
                else:
                    start = foot  # a slow swell: the model's onset comes late, the rise does not
                if end - start >= max(1, int(round(s.min_note * fps))):
                    found.append((b, start, end, peak))
    found = drop_harmonic_echoes(found, s)
    notes = []
    for b, start, end, peak in found:
        loudness = 0.0 if level is None else float(level[min(start + int(0.1 * fps), len(level) - 1)])
        velocity = int(np.clip(round(127 * np.sqrt(peak) * 10 ** (loudness / 40)), 1, 127))
        notes.append(Note(float(times[start]), frame_end(end), b + LOWEST_PITCH, velocity))
    return sort_notes(notes)


def quiet_regions(note: np.ndarray, ons: np.ndarray, b: int, loud: list[tuple[int, int]], s: AmbientCleanup,
                  fps: float) -> list[tuple[int, int]]:
    """Held regions of bin b that never reach frame_high but are quiet notes of their own: they
    reach `quiet_high` × frame_high, the model saw them struck (an onset of `quiet_onset` near
    the start) and no other pitch explains them. A soft note under louder ones peaks low, but
    the onset head still marks it; most weak regions without one are the partials and octave
    mistakes of the loud notes. Regions touching a loud one (`held_regions`) are left to it."""
    if not 0 < s.quiet_high < 1:
        return []
    act, w = note[:, b], int(s.onset_search * fps)
    found = []
    for a, e in held_regions(act, replace(s, frame_high=s.quiet_high * s.frame_high), fps):
        if any(a < le and e > la for la, le in loud):
            continue
        struck = float(ons[max(0, a - w):a + w + 1].max(initial=0.0)) > s.quiet_onset
        if struck and not explained(note, b, a, e, s.quiet_rival):
            found.append((a, e))
    return found


def strongest_two(onset: np.ndarray, chunk: int = 4096) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Per frame: (the strongest onset, its pitch bin) and the second strongest onset.

    Worked out a few thousand frames at a time: the partition's index array is as large as
    the activations themselves (twice, in int64), too much to hold for an hour of audio.
    """
    frames = len(onset)
    first, where, second = np.zeros(frames, onset.dtype), np.zeros(frames, np.int64), np.zeros(frames, onset.dtype)
    if onset.shape[1] < 2:
        if onset.shape[1] == 1:
            first[:] = onset[:, 0]
        return (first, where), second
    for a in range(0, frames, chunk):
        block = onset[a:a + chunk]
        top = np.argpartition(block, -2, axis=1)[:, -2:]
        values = np.take_along_axis(block, top, axis=1)
        best = values.argmax(axis=1)
        rows = np.arange(len(block))
        first[a:a + chunk], where[a:a + chunk] = values[rows, best], top[rows, best]
        second[a:a + chunk] = values[rows, 1 - best]
    return (first, where), second


def rival_onsets(strongest: tuple[np.ndarray, np.ndarray], second: np.ndarray, b: int) -> np.ndarray:
    """Per frame, the strongest onset of any pitch but bin b (from `strongest_two`)."""
    return np.where(strongest[1] == b, second, strongest[0])


def drop_harmonic_echoes(found: list[tuple[int, int, int, float]], s: AmbientCleanup):
    """Remove notes that sit a harmonic above a louder note sounding at the same time."""
    by_bin: dict[int, list[tuple[int, int, float]]] = {}
    for b, start, end, peak in found:
        by_bin.setdefault(b, []).append((start, end, peak))
    kept = []
    for b, start, end, peak in found:
        echo = False
        for interval in HARMONICS:
            for fs, fe, fpeak in by_bin.get(b - interval, []):
                overlap = min(end, fe) - max(start, fs)
                if overlap > 0.8 * (end - start) and peak < s.harmonic_ratio * fpeak and fs <= start + 2:
                    echo = True
                    break
            if echo:
                break
        if not echo:
            kept.append((b, start, end, peak))
    return kept
