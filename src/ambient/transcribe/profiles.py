"""The clean-up's presets, chosen on the transcription benchmark's tuning set, and the
transcriber that picks one per file from its sound (`sound.choose_profile`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ambient.audio import TRANSCRIBER_RATE
from ambient.notes import Note
from ambient.transcribe.cleanup import AmbientCleanup
from ambient.transcribe.sound import choose_profile

# Presets chosen on the transcription benchmark's tuning set alone
# (benchmarks/transcription_tune.py: a coordinate search that keeps a change only if no
# tuning condition, timbre and room, loses by it).
PROFILES = {
    # sharp attacks that decay: a start goes onto the clearest onset nearby; a re-strike of a
    # ringing string needs only a small rise to count, but an onset near the moment's strongest;
    # the knee forgets the attack's own decay after 0.3 s (in a dry room, where no tail
    # follows the note, after 1.2 s, and lets the note fall further before it ends); outside
    # halls, a note the knee ended early runs on to where its pitch's sound falls 10 dB in
    # 0.3 s, as a string let go does, unless the knee caught a release already (looking past
    # early falls over before the knee's end, up to 2 s past where the model stopped hearing it,
    # while its level never rises 6 dB); and a soft note under louder ones counts when the model
    # saw it struck and no louder pitch explains it
    "pluck": AmbientCleanup(frame_high=0.495, frame_low=0.132, merge_gap=0.25, release_ratio=0.18, release_hold=0.3,
                            knee_ratio=0.675, knee_settle=0.3, dry_knee_ratio=0.65, dry_knee_settle=1.2,
                            release_drop=10.0, release_span=0.3, release_room=28.0, release_guard=1.25,
                            release_reach=2.0, release_rise=6.0,
                            onset_threshold=0.3, quiet_high=0.7, quiet_onset=0.5, quiet_rival=0.85,
                            restrike_onset=0.605, restrike_rise=0.054, restrike_window=0.05, restrike_share=0.8,
                            attack_search=0.5, onset_search=0.2048, min_note=0.16,
                            harmonic_ratio=0.7, adaptive=0.8, profile="pluck"),
    # held, swelling sound: the onset head is too late to trust (a start is the foot of the
    # swell), and a note ends where its held level first gives way
    "pad": AmbientCleanup(frame_high=0.45, frame_low=0.22, merge_gap=0.15, release_ratio=0.3, release_hold=0.3,
                          knee_ratio=0.75, onset_threshold=0.8, restrike_onset=0.8, restrike_rise=0.25,
                          restrike_window=0.05, attack_search=0.5, onset_search=0.08, min_note=0.1,
                          harmonic_ratio=0.7, adaptive=0.5, profile="pad"),
}


@dataclass(frozen=True)
class AutoCleanup:
    """A profile chosen from each file's own sound, with any knobs the user set on top."""
    profile: str = "auto"  # auto, pluck or pad
    overrides: tuple[tuple[str, float], ...] = ()
    name = "basic-pitch+ambient"

    def resolve(self, audio: np.ndarray, rate: int) -> AmbientCleanup:
        """The concrete settings for one file."""
        chosen = choose_profile(audio, rate) if self.profile == "auto" else self.profile
        overrides = dict(self.overrides)
        settings = replace(PROFILES[chosen], **overrides)
        knee, dry_knee = {"knee_ratio", "knee_settle"}, {"dry_knee_ratio", "dry_knee_settle"}
        if knee & overrides.keys() and not dry_knee & overrides.keys():
            settings = replace(settings, dry_knee_ratio=0.0, dry_knee_settle=0.0)  # the user's knee, in every room
        return settings.for_room(audio, rate)

    def settings(self) -> dict:
        return {"profile": self.profile, **dict(self.overrides)}

    def notes(self, model, post: dict, audio: np.ndarray) -> list[Note]:
        return self.resolve(audio, TRANSCRIBER_RATE).notes(model, post, audio)
