"""The one error type the lab raises: its message says what failed and what to do."""


class LabError(Exception):
    """A failure the CLI reports as `lab: <message>` with a non-zero exit status."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code
