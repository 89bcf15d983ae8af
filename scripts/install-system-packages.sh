#!/usr/bin/env bash
# Debian packages: FluidSynth and the MIT-licensed FluidR3_GM SoundFont (the SoundFont
# backend), Chromium and its WebDriver (the studio's browser tests), PortAudio (`--play`) and
# JACK (live MIDI and audio; the live tests start a JACK server with its dummy driver, no
# sound card needed). Installed when running as root and missing; otherwise says what to do.
set -u
packages=(libfluidsynth3 fluid-soundfont-gm chromium chromium-driver libportaudio2 jackd2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: SoundFont rendering, live play and the browser tests need: sudo apt-get install ${missing[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
  || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; } \
  || echo "note: could not install ${missing[*]}; SoundFont rendering, live play or the browser tests will not work" >&2
exit 0
