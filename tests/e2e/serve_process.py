"""``chinwag serve`` as a child process of a test, as an operator would start it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_serve(
    workdir: Path, settings: str, log_path: Path, *args: str
) -> subprocess.Popen[bytes]:
    """Start ``chinwag serve --port 0`` in ``workdir`` with ``settings`` as its config file.

    ``args`` follow ``--port 0 --config <workdir>/chinwag.toml``. Its stderr (the log) goes to
    ``log_path``. The environment is this one without ``CHINWAG__*`` overrides, so that only the
    config and ``args`` decide, and with this checkout first on ``PYTHONPATH``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "chinwag.toml"
    config.write_text(settings, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHINWAG__")}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "chinwag", "serve", "--port", "0", "--config", str(config)]
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [*command, *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
