"""The one exception type users see: a clear one-line message, exit status 2, no traceback."""


class UserError(Exception):
    """Bad input from the user (config file, key, value, command, run folder)."""
