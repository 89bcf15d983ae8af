"""The endless stream, played in real time to MIDI ports, OSC listeners, the sound card and files.

Three threads and bounded queues between them, so an hour costs what a minute does:

    composer (ambient.stream.Ahead) --segments--> this loop --events--> Player (its clock)
                                                           \\--audio--> SoundOutput / FileSink

This loop turns each segment into note events (note-ons of what starts in it, note-offs of
what ended in it) and, when audio is wanted, renders it. The queues are short (LIVE_SEGMENT
seconds each), so a knob turned now is heard within seconds, and the composer, which runs
many times faster than real time, always stays ahead. Whatever ends the music, every
sounding note gets its note-off (`Player.all_off`).
"""

from __future__ import annotations

import threading
import time

from ambient.errors import AmbientError
from ambient.live.player import Player, events_of
from ambient.stream import Ahead, Segment, StreamReport, check_minutes

LIVE_SEGMENT = 4.0       # seconds of music per composer step when playing live
LEAD = 0.1               # seconds between the first segment and its first sound, to settle the clock


def segment_events(segment: Segment, limit: float | None = None) -> list:
    """A segment's events: its new notes' note-ons and the note-offs it closed, before `limit`."""
    events = events_of(segment.notes + segment.open, since=segment.start, known=segment.end)
    return [e for e in events if limit is None or e.time < limit]


def play_live(composer, player: Player, *, performer=None, audio: tuple = (), minutes: float | None = None,
              stop: threading.Event | None = None, knobs=None, notes_out: list | None = None,
              on_segment=None) -> StreamReport:
    """Play until `minutes` (None: until `stop`), to the player's outputs and, with a performer,
    rendered to each of `audio` (`SoundOutput`, `ambient.render.sinks.FileSink`). Raises what made it
    stop early (a port that went away, a failing output); the notes end either way."""
    check_minutes(minutes)
    stop = stop or threading.Event()
    limit = None if minutes is None else minutes * 60.0
    for sink in audio:
        if hasattr(sink, "watch"):
            sink.watch(stop)
    ahead = Ahead(composer, stop, segments=1)
    report, started = StreamReport(), time.perf_counter()
    finished = False
    course = composer.course
    skipped = 0.0                           # music time dropped when a phrase came in (never heard)
    try:
        while not stop.is_set() and (limit is None or report.seconds < limit):
            for output in player.outputs:
                if (why := output.gone()) is not None:
                    raise AmbientError(why)
            if player.failure is not None:
                raise player.failure
            segment = ahead.get()
            if segment is None or segment.course < composer.course:
                continue                    # none yet, or made before a phrase came in: not played
            if segment.course > course:     # the first answer to a phrase: it starts now
                course = segment.course
                skipped += segment.start - max(player.music_time(), 0.0)
                player.flush()
                if performer is not None:
                    performer.skip_to(segment.start)
            report.add(segment)
            end = limit + skipped if limit is not None else None    # on the music's clock, past what was skipped
            until = segment.end if end is None else min(segment.end, end)
            block = None
            if performer is not None:
                if knobs is not None and (instrument := knobs.take_instrument()):
                    performer.use(instrument)
                performer.add(segment)
                block = performer.render(until)
            if player.origin is None:       # the first sound: the clock and the sound card start together
                for sink in audio:
                    if hasattr(sink, "start"):
                        sink.start()
                player.start(lead=LEAD + max((getattr(s, "latency", 0.0) for s in audio), default=0.0))
            if not player.put(segment_events(segment, end), abandon=lambda: composer.course != course):
                if player.stop.is_set():
                    break
                continue                    # a phrase came in while this waited: its answer comes next
            if block is not None:
                for sink in audio:
                    sink.write(block)
            if notes_out is not None:
                notes_out.extend(n for n in segment.notes if end is None or n.start < end)
            report.seconds = until - skipped
            report.wall = time.perf_counter() - started
            if on_segment is not None:
                on_segment(report)
        finished = not stop.is_set()
    finally:
        ahead.close()
        player.finish(drain=finished)
        for sink in audio:
            if finished and hasattr(sink, "drain"):
                sink.drain()
            sink.close()
        report.wall = time.perf_counter() - started
    if player.failure is not None:
        raise player.failure
    return report


def play_notes(notes: list, player: Player) -> None:
    """A finished piece, once, in real time; `player.stop` (Ctrl-C) cuts it short, every note ended."""
    player.start(lead=LEAD)
    player.put(events_of(notes))
    player.finish(drain=True)
    if player.failure is not None:
        raise player.failure
