"""The ambient instruments: a voice recipe and an effect chain each, named for a mood.

Named after the sounds the original project's author found worked for this music
(Stratosphere, Deterioration, Peaceful Meadow, Calm and Storm, Underwater Temple,
Parallel Universe), designed here from scratch. Effects are pedalboard plugins, made
fresh for every render so no state leaks between pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from pedalboard import (Bitcrush, Chorus, Compressor, Delay, HighpassFilter, LadderFilter, LowpassFilter,
                        Pedalboard, Phaser, Reverb)

from ambient.errors import AmbientError
from ambient.render.synth import Layer, Voice


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    voice: Voice
    effects: Callable[[], Pedalboard]
    noise: float = 0.0            # level of a noise bed under the notes (hiss, wind, surf)
    noise_color: float = 0.995    # closer to 1: darker noise
    noise_swell_hz: float = 0.0   # slow swelling of the noise bed, like gusts or waves
    filter_hz: float = 0.0        # centre of a slowly moving lowpass (0: none)
    filter_octaves: float = 0.0   # how far it sweeps either side
    filter_rate_hz: float = 0.03
    filter_resonance: float = 0.2
    tail: float = 8.0             # seconds of release and reverb after the last note ends
    tags: tuple[str, ...] = field(default=())


def _stratosphere() -> Pedalboard:
    return Pedalboard([HighpassFilter(60), Chorus(rate_hz=0.2, depth=0.3, mix=0.35),
                       Reverb(room_size=0.95, damping=0.35, wet_level=0.55, dry_level=0.45, width=1.0),
                       Compressor(threshold_db=-18, ratio=2.0, attack_ms=30, release_ms=400)])


def _meadow() -> Pedalboard:
    return Pedalboard([HighpassFilter(80), Delay(delay_seconds=0.42, feedback=0.3, mix=0.18),
                       Reverb(room_size=0.8, damping=0.5, wet_level=0.35, dry_level=0.65, width=0.9),
                       LowpassFilter(6500), Compressor(threshold_db=-20, ratio=1.8, attack_ms=40, release_ms=300)])


def _deterioration() -> Pedalboard:
    return Pedalboard([Bitcrush(bit_depth=10), LowpassFilter(2600), Chorus(rate_hz=0.35, depth=0.6, mix=0.5),
                       Reverb(room_size=0.85, damping=0.6, wet_level=0.45, dry_level=0.55, width=0.8),
                       Compressor(threshold_db=-16, ratio=2.5, attack_ms=20, release_ms=500)])


def _storm() -> Pedalboard:
    return Pedalboard([HighpassFilter(50), Phaser(rate_hz=0.07, depth=0.6, centre_frequency_hz=900, mix=0.4),
                       Reverb(room_size=0.97, damping=0.3, wet_level=0.6, dry_level=0.4, width=1.0),
                       Compressor(threshold_db=-18, ratio=2.0, attack_ms=30, release_ms=600)])


def _temple() -> Pedalboard:
    return Pedalboard([LowpassFilter(1400), Chorus(rate_hz=0.12, depth=0.5, mix=0.4),
                       Reverb(room_size=0.98, damping=0.7, wet_level=0.65, dry_level=0.35, width=1.0),
                       Compressor(threshold_db=-20, ratio=2.0, attack_ms=25, release_ms=500)])


def _parallel() -> Pedalboard:
    return Pedalboard([HighpassFilter(70), Delay(delay_seconds=0.61, feedback=0.45, mix=0.25),
                       Chorus(rate_hz=0.5, depth=0.25, mix=0.3),
                       Reverb(room_size=0.92, damping=0.4, wet_level=0.5, dry_level=0.5, width=1.0),
                       Compressor(threshold_db=-18, ratio=2.0, attack_ms=20, release_ms=400)])


def _voyager() -> Pedalboard:
    return Pedalboard([HighpassFilter(40), Chorus(rate_hz=0.08, depth=0.4, mix=0.3),
                       Reverb(room_size=0.99, damping=0.25, wet_level=0.62, dry_level=0.38, width=1.0),
                       LowpassFilter(9000), Compressor(threshold_db=-20, ratio=1.8, attack_ms=50, release_ms=800)])


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("stratosphere", "wide detuned saw pad, slow bloom, long bright hall",
           Voice((Layer("saw", 1.0, 0.7, (-8, 0, 8), sway=0.3), Layer("sine", 2.0, 0.15)),
                 attack=2.0, release=5.0, gain=0.16, lowest=48, sub_gain=0.2),
           _stratosphere, filter_hz=2800, filter_octaves=1.0, filter_rate_hz=0.04, tail=12.0),
    Preset("peaceful-meadow", "soft triangle and flute-like octave, gentle echoes",
           Voice((Layer("triangle", 1.0, 0.8, (-3, 3)), Layer("sine", 2.0, 0.25, sway=0.4, sway_hz=0.2)),
                 attack=0.6, release=2.5, decay=3.0, sustain=0.7, gain=0.22),
           _meadow, noise=0.0015, noise_color=0.97, noise_swell_hz=0.07, tail=8.0),
    Preset("deterioration", "worn tape loop: crushed, wobbling, hiss underneath",
           Voice((Layer("square", 1.0, 0.5, (-12, 5)), Layer("saw", 1.0, 0.35, (9,), sway=0.5, sway_hz=0.15)),
                 attack=0.9, release=3.5, gain=0.15),
           _deterioration, noise=0.02, noise_color=0.97, noise_swell_hz=0.05, tail=10.0),
    Preset("calm-and-storm", "choir and organ under a rising and falling wind",
           Voice((Layer("choir", 1.0, 0.7, (-6, 0, 6), sway=0.35, sway_hz=0.06), Layer("organ", 0.5, 0.3)),
                 attack=2.5, release=5.0, gain=0.15),
           _storm, noise=0.05, noise_color=0.998, noise_swell_hz=0.04, filter_hz=2000, filter_octaves=1.2,
           filter_rate_hz=0.02, tail=14.0),
    Preset("underwater-temple", "muffled bells in a vast dark room",
           Voice((Layer("sine", 1.0, 0.7, (0, 4)), Layer("sine", 2.76, 0.25), Layer("sine", 5.4, 0.1)),
                 attack=0.02, release=6.0, decay=1.5, sustain=0.35, gain=0.3, lowest=48, sub_gain=0.3),
           _temple, noise=0.006, noise_color=0.999, noise_swell_hz=0.1, tail=14.0),
    Preset("parallel-universe", "resonant sweeping synth with long echoes, for sci-fi moods",
           Voice((Layer("square", 1.0, 0.5, (-15, 15)), Layer("saw", 1.0, 0.4, (0,), sway=0.5, sway_hz=0.1)),
                 attack=1.2, release=4.0, gain=0.14),
           _parallel, filter_hz=1500, filter_octaves=1.6, filter_rate_hz=0.07, filter_resonance=0.5, tail=12.0),
    Preset("voyager", "deep organ drone with a sub, in an endless hall",
           Voice((Layer("organ", 1.0, 0.7, (-4, 4), sway=0.2, sway_hz=0.05), Layer("sine", 0.5, 0.3)),
                 attack=3.0, release=6.0, gain=0.15, lowest=60, sub_gain=0.25),
           _voyager, tail=16.0),
]}


def preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise AmbientError(f"{name}: no such instrument (choose from {', '.join(PRESETS)})") from None


def moving_filter(p: Preset) -> LadderFilter | None:
    if not p.filter_hz:
        return None
    return LadderFilter(mode=LadderFilter.Mode.LPF12, cutoff_hz=p.filter_hz, resonance=p.filter_resonance)
