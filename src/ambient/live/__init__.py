"""Playing live: the music sent as it is made, to MIDI ports, OSC listeners and the sound card.

- `player`: the clock. Events at their times, a look-ahead queue, and the one ledger of
  sounding notes that makes sure every note-on gets its note-off, whatever ends the music.
- `outputs`: where events go (a MIDI port through python-rtmidi, OSC over UDP) and where
  rendered audio goes (the sound card through PortAudio).
- `control`: changing temperature, density, scale and instrument while it plays (OSC).
- `session`: the endless stream (`ambient.stream.Composer`) played in real time to all of them.
"""
