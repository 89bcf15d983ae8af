"""The live clock on its own: events at their times, every note-on ended, whatever stops it."""

import threading

import pytest
from hypothesis import given, settings, strategies as st

from ambient.errors import AmbientError, ParameterError
from ambient.live.control import Knobs
from ambient.live.outputs import find_port, parse_address
from ambient.live.player import NOTE_OFF, NOTE_ON, Event, Player, events_of
from ambient.live.session import segment_events
from ambient.notes import Note
from ambient.stream import HELD, Segment


class Recorder:
    """An output that keeps what it was sent, and checks the MIDI rule as it goes."""

    def __init__(self, fail_after: int | None = None):
        self.sent, self.on, self.panics, self.fail_after = [], set(), 0, fail_after

    def note_on(self, pitch, velocity):
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise OSError("the port broke")
        assert pitch not in self.on, f"note-on {pitch} while it still sounds"
        self.on.add(pitch)
        self.sent.append(("on", pitch))

    def note_off(self, pitch):                           # a stray note-off is allowed: MIDI ignores it
        if pitch in self.on:
            self.on.discard(pitch)
            self.sent.append(("off", pitch))

    def panic(self):
        self.panics += 1

    def gone(self):
        return None


class FakeClock:
    """Time that passes only when the player sleeps: the schedule is exact and the test instant."""

    def __init__(self):
        self.now, self.lock = 100.0, threading.Lock()

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        with self.lock:
            self.now += seconds


notes_strategy = st.lists(st.builds(lambda s, d, p, v: Note(s, s + d, p, v), st.floats(0, 5), st.floats(0.01, 3),
                                    st.integers(58, 64), st.integers(1, 127)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(notes_strategy)
def test_every_note_on_is_ended_and_sent_at_its_time(notes):
    clock, out, log = FakeClock(), Recorder(), []
    player = Player([out], clock=clock, sleep=clock.sleep, latency=0.25,
                    on_event=lambda e, due, sent: log.append((e, due, sent)))
    player.start()
    player.put(events_of(notes))
    player.finish(drain=True)
    assert out.on == set() and out.panics == 1
    assert sum(1 for kind, _ in out.sent if kind == "on") == len(notes)        # crowded pitches re-strike
    for event, due, sent in log:
        assert sent == pytest.approx(due, abs=1e-9)
        assert due == pytest.approx(100.0 + 0.25 + event.time)


@settings(max_examples=30, deadline=None)
@given(notes_strategy, st.integers(0, 30))
def test_a_stop_or_a_broken_output_leaves_nothing_sounding(notes, cut):
    clock, out, other = FakeClock(), Recorder(), Recorder(fail_after=cut)
    player = Player([out, other], clock=clock, sleep=clock.sleep)
    player.start()
    player.put(events_of(notes))
    player.finish(drain=True)
    assert out.on == set() and out.panics == 1 and other.panics == 1
    breaks = sum(1 for n in notes) > 0 and cut < 2 * len(notes)
    if player.failure is not None:
        assert breaks and str(player.failure) == "the port broke"


def test_a_late_segment_slides_the_clock_instead_of_rushing():
    clock, out = FakeClock(), Recorder()
    player = Player([out], clock=clock, sleep=clock.sleep)
    player.start()
    player.put([Event(0.0, NOTE_ON, 60, 80), Event(1.0, NOTE_OFF, 60)])
    clock.now += 5.0                                     # the composer took five seconds too long
    player.put([Event(1.5, NOTE_ON, 62, 80), Event(2.5, NOTE_OFF, 62)])
    player.finish(drain=True)
    assert player.report.slides >= 1 and player.report.slid >= 3.0
    assert out.sent == [("on", 60), ("off", 60), ("on", 62), ("off", 62)]


def test_a_segment_plays_its_new_notes_and_ends_what_closed_in_it():
    carried = Note(1.0, 5.5, 60, 70)                     # began in the segment before, ends in this one
    new = Note(6.0, 7.0, 64, 80)
    held = Note(7.5, HELD, 67, 90)                       # its end is not written yet
    events = segment_events(Segment(5.0, 8.0, [carried, new], [held]))
    assert events == [Event(5.5, NOTE_OFF, 60), Event(6.0, NOTE_ON, 64, 80), Event(7.0, NOTE_OFF, 64),
                      Event(7.5, NOTE_ON, 67, 90)]
    assert segment_events(Segment(5.0, 8.0, [carried, new], [held]), limit=7.0) == events[:2]


def test_ports_are_found_by_whole_name_or_a_unique_part_and_missing_ones_are_listed():
    ports = ["Synth:in", "DAW:midi_in", "DAW:midi_in_2"]
    assert find_port(ports, "Synth:in", "--midi-out") == 0
    assert find_port(ports, "synth", "--midi-out") == 0
    with pytest.raises(AmbientError, match="matches more than one port"):
        find_port(ports, "daw", "--midi-out")
    with pytest.raises(AmbientError, match=r"--midi-out 'piano': no such MIDI port \(ports: 'Synth:in'"):
        find_port(ports, "piano", "--midi-out")


@pytest.mark.parametrize("text", ["9000", "host:", ":9000", "host:port", "host:70000"])
def test_an_osc_address_must_be_host_and_port(text):
    with pytest.raises(ParameterError, match="osc must be HOST:PORT"):
        parse_address(text)
    assert parse_address("127.0.0.1:9000") == ("127.0.0.1", 9000)


def test_knobs_change_the_composer_and_refuse_bad_values_whole():
    from ambient.config import Sampling

    class Composer:
        sampling, controls = Sampling(), None

    composer, said = Composer(), []
    knobs = Knobs(composer, on_change=said.append)
    knobs.set("temperature", 0.8)
    knobs.set("density", "1.5")
    knobs.set("scale", "D dorian")
    assert composer.sampling.temperature == 0.8
    assert composer.controls.density == 1.5 and composer.controls.scale == "D dorian"
    assert said == ["temperature 0.8", "density 1.5", "scale D dorian"]
    for name, value, message in [("temperature", "-1", "temperature must be above 0"),
                                 ("density", "99", "density must be auto or in"),
                                 ("scale", "H major", "scale must be auto, none or TONIC MODE"),
                                 ("volume", "3", "knob must be one of temperature, density"),
                                 ("instrument", "voyager", "instrument changes the rendered sound")]:
        with pytest.raises(AmbientError, match=message):
            knobs.set(name, value)
    assert composer.sampling.temperature == 0.8 and composer.controls.density == 1.5
    knobs.set("density", "none")
    knobs.set("scale", "none")
    assert composer.controls is None
