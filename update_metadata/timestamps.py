"""UTC timestamps with nanosecond precision, as the manifest's wave times (chrono ``DateTime<Utc>``).

Python's ``datetime`` stops at microseconds, and wave arithmetic is exact to the nanosecond
upstream, so a :class:`Timestamp` is an integer count of nanoseconds since the Unix epoch.
Parsing takes RFC 3339 (``T``, ``t`` or a blank between date and time; ``Z``, ``z`` or
``±HH:MM``; any number of fraction digits, cut to nine) and normalises to UTC. Formatting is
chrono's ``AutoSi``: ``YYYY-MM-DDTHH:MM:SS`` then ``.fff``, ``.ffffff`` or ``.fffffffff`` only
when the fraction is not zero, then ``Z``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from functools import total_ordering

from .errors import TimestampError

__all__ = ["NS_PER_SECOND", "Timestamp"]

NS_PER_SECOND = 1_000_000_000
_RFC3339 = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})"
    r"(?:\.(?P<frac>[0-9]+))?(?P<tz>[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@total_ordering
@dataclass(frozen=True)
class Timestamp:
    """A point in time: nanoseconds since 1970-01-01T00:00:00Z."""

    ns: int

    @classmethod
    def parse(cls, text: str) -> Timestamp:
        """Parse an RFC 3339 timestamp; :class:`TimestampError` names the string otherwise."""
        if not isinstance(text, str):
            raise TimestampError(f"Expected an RFC 3339 timestamp string, got {type(text).__name__} {text!r}")
        m = _RFC3339.fullmatch(text)
        if m is None:
            raise TimestampError(f"Invalid RFC 3339 timestamp {text!r}")
        try:
            moment = dt.datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]))
        except ValueError as exc:
            raise TimestampError(f"Invalid RFC 3339 timestamp {text!r}: {exc}") from exc
        offset = 0
        if m["tz"] not in ("Z", "z"):
            hours, minutes = int(m["tz"][1:3]), int(m["tz"][4:6])
            if hours > 23 or minutes > 59:
                raise TimestampError(f"Invalid RFC 3339 timestamp {text!r}: bad offset {m['tz']}")
            offset = (hours * 3600 + minutes * 60) * (-1 if m["tz"][0] == "-" else 1)
        frac = int((m["frac"] or "0")[:9].ljust(9, "0"))
        seconds = calendar.timegm(moment.timetuple()) - offset
        return cls(seconds * NS_PER_SECOND + frac)

    @classmethod
    def from_datetime(cls, moment: dt.datetime) -> Timestamp:
        """The same instant as an aware ``datetime`` (a naive one is refused: its zone is unknown)."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise TimestampError(f"A naive datetime has no time zone: {moment.isoformat()}")
        delta = moment - _EPOCH
        return cls((delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000)

    @classmethod
    def now(cls) -> Timestamp:
        """The current UTC time (microsecond resolution, as ``datetime`` gives it)."""
        return cls.from_datetime(dt.datetime.now(dt.UTC))

    def to_datetime(self) -> dt.datetime:
        """An aware UTC ``datetime``; nanoseconds below a microsecond are dropped."""
        return _EPOCH + dt.timedelta(microseconds=self.ns // 1000)

    def __add__(self, ns: int) -> Timestamp:
        return Timestamp(self.ns + ns)

    def __sub__(self, ns: int) -> Timestamp:
        return Timestamp(self.ns - ns)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Timestamp):
            return NotImplemented
        return self.ns < other.ns

    def __str__(self) -> str:
        seconds, frac = divmod(self.ns, NS_PER_SECOND)
        text = (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
        if frac % 1_000_000 == 0 and frac:
            text += f".{frac // 1_000_000:03d}"
        elif frac % 1000 == 0 and frac:
            text += f".{frac // 1000:06d}"
        elif frac:
            text += f".{frac:09d}"
        return text + "Z"
