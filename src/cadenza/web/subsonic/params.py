"""Request parameters of a Subsonic call: query string and form body together, every value read under
the text rule (`web.validation.check_text`) and every number bounded; a bad value is error 10 naming it."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import MultiDict

from cadenza.errors import InvalidInput
from cadenza.web.subsonic.envelope import MISSING_PARAMETER, SubsonicError
from cadenza.web.validation import NAME_LENGTH, check_text

MAX_REPEAT = 1000  # values of one repeated parameter (id=…&id=…) a call may carry


class Params:
    def __init__(self, values: MultiDict) -> None:
        self._values = values

    @classmethod
    async def of(cls, request: Request) -> Params:
        items = list(request.query_params.multi_items())
        if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            try:
                form = await request.form(max_files=0, max_fields=2000)
                items += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
            except Exception as exc:  # an unreadable body is the client's fault, said as such
                raise SubsonicError(MISSING_PARAMETER, "the form body could not be read") from exc
        return cls(MultiDict(items))

    def _checked(self, name: str, value: str, max_length: int) -> str:
        try:
            return check_text(value, field=f"parameter {name!r}", max_length=max_length)
        except InvalidInput as exc:
            raise SubsonicError(MISSING_PARAMETER, exc.reason) from exc

    def text(self, name: str, *, max_length: int = NAME_LENGTH) -> str | None:
        value = self._values.get(name)
        return None if value is None else self._checked(name, value, max_length)

    def required(self, name: str, *, max_length: int = NAME_LENGTH) -> str:
        value = self.text(name, max_length=max_length)
        if value is None or value == "":
            raise SubsonicError(MISSING_PARAMETER, f"required parameter {name!r} is missing")
        return value

    def all(self, name: str, *, max_length: int = 100) -> list[str]:
        values = self._values.getlist(name)
        if len(values) > MAX_REPEAT:
            raise SubsonicError(MISSING_PARAMETER, f"at most {MAX_REPEAT} values of {name!r}")
        return [self._checked(name, v, max_length) for v in values]

    def integer(
        self, name: str, *, default: int | None = None, lo: int = 0, hi: int = 2**31 - 1
    ) -> int | None:
        raw = self.text(name, max_length=20)
        if raw is None or raw == "":
            return default
        if not (raw.isascii() and raw.lstrip("-").isdigit()) or not lo <= int(raw) <= hi:
            raise SubsonicError(
                MISSING_PARAMETER, f"parameter {name!r} must be a whole number from {lo} to {hi}"
            )
        return int(raw)

    def flag(self, name: str, *, default: bool = False) -> bool:
        raw = self.text(name, max_length=5)
        if raw is None or raw == "":
            return default
        if raw.lower() not in ("true", "false"):
            raise SubsonicError(MISSING_PARAMETER, f"parameter {name!r} must be true or false")
        return raw.lower() == "true"
