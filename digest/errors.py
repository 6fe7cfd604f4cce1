"""The errors an operator can cause, one class per stage.

    DigestError                 anything the CLI prints as "Error: ..." (exit 1)
    ├── ConfigError             config.toml missing, unreadable or invalid (exit 2)
    ├── InputError              a bad command-line value or input file (exit 2)
    ├── LockHeld                another run holds the state lock (exit 3)
    ├── ParseError              one feed's bytes are not a feed (becomes FetchResult.error)
    ├── StoreError              the state database cannot be opened or written
    ├── RenderError             a template is missing or broken
    ├── SubscriberError         a subscriber list or token is unusable
    └── SendError               the SMTP server cannot be reached or refuses us

Foreign exceptions are converted at the edge of the stage that meets them, with
`raise ... from e`, so the message is for the operator and the cause stays for --debug.
"""


class DigestError(Exception):
    """Base of every error digest reports to the operator."""

    exit_code = 1


class ConfigError(DigestError):
    """config.toml is missing, is not TOML, or has a bad key or value."""

    exit_code = 2


class InputError(DigestError):
    """A command-line value or an input file is not usable."""

    exit_code = 2


class LockHeld(DigestError):
    """Another digest process holds the lock on the state database."""

    exit_code = 3


class ParseError(DigestError):
    """A feed's bytes could not be read as a feed."""


class StoreError(DigestError):
    """The state database could not be opened, migrated or written."""


class RenderError(DigestError):
    """A template is missing or fails to render."""


class SubscriberError(DigestError):
    """A subscriber list, address or token is unusable."""


class SendError(DigestError):
    """The SMTP server could not be reached, or refused the session.

    `fatal` is set when trying again cannot help (the server refused the login).
    """

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal
