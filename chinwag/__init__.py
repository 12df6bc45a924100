"""chinwag: a console chat. A fast IRC server and a friendly terminal client."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
