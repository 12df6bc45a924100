"""Server unit tests: configuration and the pieces that need no socket."""
