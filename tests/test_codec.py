from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ambient.codec import (DEFAULT_CODEC, END, NOTE_OFF, NOTE_ON, START, TIME_SHIFT, bin_velocity, decode,
                           describe, encode, normalize, quantize, restated_window, velocity_bin, velocity_offset,
                           vocab_size)
from ambient.notes import Note

STEP = DEFAULT_CODEC.step_seconds

note = st.builds(
    lambda start, length, pitch, velocity: Note(start, start + length, pitch, velocity),
    st.floats(0, 30, allow_nan=False),
    st.one_of(st.floats(0.001, 0.02), st.floats(0.02, 4.0), st.floats(4.0, 12.0)),  # very short .. long
    st.integers(0, 127),
    st.integers(1, 127),
)
# scores with gaps over 1 s, overlaps and repeated pitches (a narrow pitch range forces them)
scores = st.lists(note, min_size=0, max_size=60) | st.lists(
    st.builds(lambda n, p: Note(n.start, n.end, p, n.velocity), note, st.integers(60, 63)), max_size=40)


def onset(n: Note) -> int:
    return quantize(n)[0]


@settings(max_examples=300, deadline=None)
@given(scores)
def test_round_trip_keeps_every_note_within_10ms_and_one_velocity_bin(notes):
    back = decode(encode(notes))
    # notes the encoding can tell apart: distinct (pitch, 10 ms onset)
    distinct = {(n.pitch, onset(n)) for n in notes}
    assert len(back) == len(distinct)
    by_key = {(n.pitch, round(n.start / STEP)): n for n in back}
    for n in notes:
        got = by_key[(n.pitch, onset(n))]
        assert abs(got.start - n.start) <= STEP + 1e-9
        same_onset = [m for m in notes if m.pitch == n.pitch and onset(m) == onset(n)]
        if len(same_onset) > 1:
            continue  # merged strikes: the longest one's end and any velocity stand
        assert abs(velocity_bin(got.velocity) - velocity_bin(n.velocity)) <= 1
        restruck = [m.start for m in notes if m.pitch == n.pitch and onset(n) < onset(m) < quantize(n)[1]]
        expected_end = min([n.end, n.start + DEFAULT_CODEC.max_note_seconds] + restruck)
        assert abs(got.end - expected_end) <= STEP + 1e-9


@settings(max_examples=200, deadline=None)
@given(scores)
def test_encoding_is_exact_on_normalized_notes(notes):
    normal = normalize(notes)
    assert decode(encode(normal)) == normal
    assert normalize(normal) == normal


@settings(max_examples=200, deadline=None)
@given(scores)
def test_velocity_token_only_when_the_bin_changes(notes):
    tokens = encode(notes)
    bins = [velocity_bin(n.velocity) for n in sorted(normalize(notes), key=lambda n: (round(n.start / STEP), n.pitch))]
    changes = sum(1 for i, b in enumerate(bins) if i == 0 or b != bins[i - 1])
    velocity_tokens = int((tokens >= velocity_offset()).sum())
    assert velocity_tokens == changes
    assert int(((tokens >= NOTE_ON) & (tokens < NOTE_OFF)).sum()) == len(bins)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, vocab_size() + 5), max_size=300))
def test_any_token_sequence_decodes_to_valid_notes(tokens):
    for n in decode(np.array(tokens)):
        assert 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127
        assert n.end > n.start >= 0
        assert n.duration <= DEFAULT_CODEC.max_note_seconds + 1e-9


def test_silence_over_one_second_uses_several_shifts():
    tokens = encode([Note(0.0, 0.5, 60, 64), Note(3.75, 4.0, 62, 64)])
    names = [describe(t) for t in tokens]
    assert names == ["vel:15", "on:60", "shift:500ms", "off:60", "shift:1000ms", "shift:1000ms",
                     "shift:1000ms", "shift:250ms", "on:62", "shift:250ms", "off:62"]
    assert decode(tokens)[1].start == 3.75


def test_decoder_ignores_stray_off_closes_hanging_and_restrikes():
    on, off, shift = NOTE_ON + 60, NOTE_OFF + 60, TIME_SHIFT + 49  # 500 ms
    notes = decode([START, NOTE_OFF + 50, on, shift, on, shift, NOTE_ON + 64, shift, END, on])
    assert [(n.pitch, n.start, n.end) for n in notes] == [(60, 0.0, 0.5), (60, 0.5, 1.5), (64, 1.0, 1.5)]
    assert decode([on, off, off]) == [Note(0.0, 0.01, 60, bin_velocity(16))]


def test_hanging_note_closes_after_the_maximum_but_a_drone_is_held():
    one_second = TIME_SHIFT + 99
    drone = decode([NOTE_ON + 60, *[one_second] * 90, NOTE_OFF + 60])
    assert drone[0].end == 90.0                       # a minute and a half: ambient holds notes that long
    notes = decode([NOTE_ON + 60, *[one_second] * int(DEFAULT_CODEC.max_note_seconds + 30)])
    assert notes[0].end == DEFAULT_CODEC.max_note_seconds >= 60


def test_fewer_tokens_than_velocity_before_every_note():
    notes = [Note(i * 0.25, i * 0.25 + 1.0, 60 + i % 12, 80) for i in range(100)]
    tokens = encode(notes)
    assert Counter(describe(t).split(":")[0] for t in tokens)["vel"] == 1


@settings(max_examples=200, deadline=None)
@given(scores, st.integers(0, 400), st.integers(8, 200))
def test_a_restated_window_ends_only_notes_it_shows_and_keeps_its_length(notes, begin, length):
    tokens = encode(notes)
    begin = min(begin, max(0, len(tokens) - 1))
    seen = restated_window(tokens, begin, length)
    assert len(seen) == min(length, len(tokens) - begin + (len(seen) - len(tokens[begin:begin + length])))
    assert len(seen) <= length
    sounding = set()
    for t in seen.tolist():
        if NOTE_ON <= t < NOTE_OFF:
            sounding.add(t - NOTE_ON)
        elif NOTE_OFF <= t < TIME_SHIFT:
            if len(sounding) < length // 8:   # past an eighth of the window the oldest go unstated
                assert t - NOTE_OFF in sounding
            sounding.discard(t - NOTE_OFF)
    if begin == 0:
        assert np.array_equal(seen, tokens[:length])


def test_a_restated_window_opens_with_the_notes_sounding_at_its_start():
    notes = [Note(0, 10, 40, 100), Note(1, 2, 60, 40), Note(3, 10, 64, 40)]
    tokens = encode(notes)
    begin = int(np.flatnonzero(tokens == NOTE_ON + 64)[0]) + 1       # just after the third note-on
    seen = restated_window(tokens, begin, 40)
    loud, soft = velocity_offset() + velocity_bin(100), velocity_offset() + velocity_bin(40)
    assert seen[:4].tolist() == [loud, NOTE_ON + 40, soft, NOTE_ON + 64]
    assert np.array_equal(seen[4:], tokens[begin:begin + 36])
    assert [(n.pitch, n.velocity) for n in decode(seen)] == [(40, bin_velocity(velocity_bin(100))),
                                                             (64, bin_velocity(velocity_bin(40)))]


def test_a_window_with_room_for_more_restates_every_sounding_note():
    # room for 3 restated notes and 2 sounding: both, not the last one alone (a negative slice once kept 3 - 2)
    notes = [Note(0, 5, 40, 80), Note(0, 5, 47, 80), Note(6, 7, 60, 80)]
    tokens = encode(notes)
    begin = int(np.flatnonzero(tokens == NOTE_ON + 47)[0]) + 1
    seen = restated_window(tokens, begin, 24)                          # 24 // 8 = 3 notes at most
    assert [n.pitch for n in decode(seen) if n.start == 0] == [40, 47]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, vocab_size() - 1), max_size=300), st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_decoding_token_by_chunk_gives_the_same_notes_as_decoding_at_once(tokens, cuts):
    from ambient.codec import Decoder
    from ambient.notes import sort_notes

    decoder, notes, at = Decoder(), [], 0
    for size in cuts * (len(tokens) // max(1, sum(cuts)) + 1):
        notes += decoder.feed(tokens[at:at + size])
        at += size
        if at >= len(tokens):
            break
    notes += decoder.finish()
    assert sort_notes(notes) == decode(tokens)


def test_sounding_follows_note_ons_note_offs_restrikes_and_velocities():
    from ambient.codec import Held, Sounding

    loud = velocity_offset() + 30
    tracker = Sounding()
    ended = [tracker.feed(t) for t in (loud, NOTE_ON + 60, TIME_SHIFT + 9, NOTE_ON + 64, NOTE_ON + 60, NOTE_OFF + 64,
                                       NOTE_OFF + 70)]
    assert ended == [None, None, None, None, Held(index=1, step=0, velocity=loud), Held(3, 10, loud), None]
    assert tracker.notes == {60: Held(index=4, step=10, velocity=loud)}       # the re-strike began a new note
    assert (tracker.now, tracker.index, tracker.velocity) == (10, 7, loud)
    assert tracker.before(4) == [] and tracker.before(5) == [(60, Held(4, 10, loud))]
