"""Every request body the studio takes, as one typed schema each (pydantic, strict).

A wrong type or a value out of range is refused before any work starts, as a 400 whose
one line names the field: `seconds: must be a number (got "30")`. Defaults come from
`work.MakeRequest`, which takes them from `ambient.config`, so there is one place for each.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ambient.studio.work import MakeRequest

SEED_MAX = 2**31 - 1      # torch's manual_seed takes a signed 64-bit number; a 31-bit one reads well
_MAKE = MakeRequest()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Make(Strict):
    primer: str = Field(_MAKE.primer, min_length=1, max_length=200)
    primer_seconds: float = Field(_MAKE.primer_seconds, ge=0, le=600)
    seconds: float = Field(_MAKE.seconds, ge=1, le=600)
    model: str = Field(_MAKE.model, min_length=1, max_length=200)
    instrument: str = Field(_MAKE.instrument, min_length=1, max_length=100)
    temperature: float = Field(_MAKE.temperature, gt=0, le=5)
    top_p: float = Field(_MAKE.top_p, gt=0, le=1)
    seed: int = Field(_MAKE.seed, ge=0, le=SEED_MAX)
    variations: int = Field(_MAKE.variations, ge=1, le=4)
    scale: str | None = Field(_MAKE.scale, max_length=100)
    pitch_range: str | None = Field(_MAKE.pitch_range, max_length=20)
    density: str | None = Field(_MAKE.density, max_length=20)
    max_polyphony: int | None = Field(_MAKE.max_polyphony, ge=1, le=64)
    name: str | None = Field(_MAKE.name, max_length=120)

    def request(self) -> MakeRequest:
        return MakeRequest(**self.model_dump())


class Render(Strict):
    instrument: str = Field(min_length=1, max_length=100)
    format: str | None = Field(None, pattern="^(wav|flac|mp3|ogg)$")   # None: what the studio keeps (wav or flac)


class Update(Strict):
    name: str | None = Field(None, min_length=1, max_length=120)
    starred: bool | None = None


class BadRequest(ValueError):
    """A body the schema refuses, in one line."""


def parse(model: type[Strict], body: bytes):
    """The body as `model`, or BadRequest naming the field and what is wrong with it."""
    if not body.strip():
        raise BadRequest("the request body is empty: send a JSON object")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"the request body is not JSON ({e})") from None
    if not isinstance(data, dict):
        raise BadRequest("the request must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise BadRequest(one_line(e)) from None


def one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "extra_forbidden":
        return f"unknown setting {field!r}"
    got = json.dumps(first.get("input"))[:40] if "input" in first else ""
    return f"{field}: {first['msg'][0].lower() + first['msg'][1:]}" + (f" (got {got})" if got else "")
