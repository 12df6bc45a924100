"""Settings and fixtures shared by the whole suite: the real Redis and PostgreSQL of
``services.py``, the small filesystem of ``small_disk.py``, and Hypothesis without deadlines."""

from __future__ import annotations

from hypothesis import settings

pytest_plugins = ["tests.services", "tests.small_disk"]

# No per-example deadline: CI runs two workers on two cores, where a slow example measures the
# machine's load, not the code (a 200 ms deadline failed the compiled-core corpus test under
# load). Speed is measured in bench/, never in tests.
settings.register_profile("chinwag", deadline=None)
settings.load_profile("chinwag")
