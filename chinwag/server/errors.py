"""Domain errors that handlers raise and `commands.dispatch` turns into numeric replies."""

from __future__ import annotations

__all__ = ["IrcError"]


class IrcError(Exception):
    """A command failed in a way the client must be told about with a numeric.

    ``IrcError(ERR_NOSUCHCHANNEL, "#nope", "No such channel")`` is sent as
    ``:server 403 <nick> #nope :No such channel``: the client's nick is added by the mapper.
    """

    def __init__(self, numeric: str, *params: str) -> None:
        super().__init__(numeric, *params)
        self.numeric = numeric
        self.params = params
