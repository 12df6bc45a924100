"""End-to-end tests: real sockets against a real chinwag server, in process or as a subprocess."""
