"""``python -m chinwag`` is the same as the ``chinwag`` command."""

from __future__ import annotations

from chinwag.cli import main

raise SystemExit(main())
