"""The errors early-boot-config raises, one family under `EarlyBootConfigError`.

```
EarlyBootConfigError
├── DecompressFailed      user data starts like gzip but does not decompress, or is not UTF-8
├── UserDataError         user data is not usable: bad TOML (with line and column), no
│                         [settings] table, a date/time value
├── UserDataInvalid       user data does not fit the variant's settings model (dotted
│                         setting and rule, one line each)
├── ProviderError         a provider failed (could not start, exited non-zero, bad output)
├── ImdsError             the instance metadata service could not be read in time
├── VariantUnknown        the variant to validate against cannot be loaded
└── ApiFailed             a request to the API failed
```

Every failure leaves the pending transaction exactly as it was: nothing is sent until every
provider has answered and every answer fits the model.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ApiFailed",
    "DecompressFailed",
    "EarlyBootConfigError",
    "ImdsError",
    "ProviderError",
    "UserDataError",
    "UserDataInvalid",
    "VariantUnknown",
]


class EarlyBootConfigError(Exception):
    """Base of every early-boot-config error; `str(exc)` is the message for the user."""


class DecompressFailed(EarlyBootConfigError):
    """Data with the gzip magic bytes that does not decompress, or decompressed data that is not UTF-8."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        super().__init__(f"Failed to decompress user data from {source}: {reason}")


class UserDataError(EarlyBootConfigError):
    """User data that cannot become settings: not TOML, no `settings` table, a date or time."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"Invalid user data from {source}: {reason}")


class UserDataInvalid(EarlyBootConfigError):
    """User data whose settings do not fit the variant's model; `lines` has one problem each."""

    def __init__(self, source: str, variant: str, lines: Sequence[str]) -> None:
        self.source = source
        self.variant = variant
        self.lines = list(lines)
        super().__init__(
            f"User data rejected ({source}): it does not fit the settings of variant '{variant}' "
            f"({len(self.lines)} problem(s)); nothing was applied:\n" + "\n".join(self.lines)
        )


class ProviderError(EarlyBootConfigError):
    """A user-data provider failed."""

    def __init__(self, provider: str, reason: str) -> None:
        self.provider = provider
        super().__init__(f"Provider '{provider}' failed: {reason}")


class ImdsError(EarlyBootConfigError):
    """IMDS did not answer usefully within the time allowed."""


class VariantUnknown(EarlyBootConfigError):
    """The variant named for validation cannot be loaded."""

    def __init__(self, variant: str, reason: str) -> None:
        self.variant = variant
        super().__init__(f"Cannot load variant '{variant}' to validate user data: {reason}")


class ApiFailed(EarlyBootConfigError):
    """A request to the API failed."""

    def __init__(self, what: str, cause: Exception) -> None:
        self.cause = cause
        super().__init__(f"Error {what}: {cause}")
