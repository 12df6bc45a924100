"""Settings shared by the whole suite."""

from __future__ import annotations

from hypothesis import settings

# No per-example deadline: CI runs two workers on two cores, where a slow example measures the
# machine's load, not the code (a 200 ms deadline failed the compiled-core corpus test under
# load). Speed is measured in bench/, never in tests.
settings.register_profile("chinwag", deadline=None)
settings.load_profile("chinwag")
