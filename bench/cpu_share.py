"""A CPU share for one process tree: a cgroup with a CPU quota (``bench/cluster.py``'s nodes).

A quota, unlike pinning to a core, gives each node the same fraction of a core whatever the
number of nodes, on a machine with fewer cores than nodes: three nodes at 0.3 core each fit on
a 2-core machine next to Redis and the load generator. The scheduler enforces it per period: a
node that used its quota waits for the next period. With the kernel's default period (100 ms) a
node at 0.3 core runs 30 ms, then sleeps 70 ms; `CpuShare` takes a shorter one (``period_ms``)
for the same share in finer slices, and `CpuShare.throttled` says how often the quota stopped
the node (``cpu.stat``).

cgroup v2 (``cpu.max``) is used when a v2 hierarchy offers the cpu controller; otherwise cgroup
v1 (``cpu.cfs_quota_us``), which hybrid systems and many containers still mount. Neither: the
share is not enforced, and `cpu_share_kind` says so (the nodes then use what they can get).
Creating cgroups needs root (or a delegated subtree).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from types import TracebackType

__all__ = ["CpuShare", "cpu_share_kind"]

PERIOD_US = 100_000
"""The quota's period by default (the kernel's)."""
MIN_PERIOD_US = 1_000
"""The shortest period the kernel takes (1 ms)."""
V2_ROOTS = (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified"))
V1_CPU = Path("/sys/fs/cgroup/cpu")
REMOVE_TRIES = 50
"""Attempts (10 ms apart) to remove a cgroup whose last process is still exiting."""


def _v2_root() -> Path | None:
    """A cgroup v2 root whose children may have a CPU quota, or None."""
    for root in V2_ROOTS:
        controllers = root / "cgroup.controllers"
        try:
            if "cpu" not in controllers.read_text().split():
                continue
            subtree = root / "cgroup.subtree_control"
            if "cpu" not in subtree.read_text().split():
                subtree.write_text("+cpu")
        except OSError:
            continue
        return root
    return None


def _v1_root() -> Path | None:
    """The cgroup v1 cpu hierarchy, when mounted and ours to change, or None."""
    probe = V1_CPU / f"chinwag-probe-{id(V1_CPU)}"
    try:
        probe.mkdir()
    except OSError:
        return None
    probe.rmdir()
    return V1_CPU if (V1_CPU / "cpu.cfs_quota_us").exists() else None


def cpu_share_kind() -> str | None:
    """How shares are enforced here (``cgroup v2 cpu.max``, ``cgroup v1 cpu.cfs_quota_us``),
    or None when they cannot be."""
    if _v2_root() is not None:
        return "cgroup v2 cpu.max"
    if _v1_root() is not None:
        return "cgroup v1 cpu.cfs_quota_us"
    return None


class CpuShare:
    """A cgroup limited to ``cores`` of CPU; put a process in it by writing its PID to
    `procs_file` (its children follow). Removed on exit from the ``with`` block.

    Args:
        name: the cgroup's name (unique on the machine).
        cores: the share, in cores (0.3: 30 ms of every 100 ms).
        period_ms: the period the quota is given for (the same share whatever it is; a shorter
            one spreads it in finer slices).
    """

    def __init__(self, name: str, cores: float, period_ms: float = PERIOD_US / 1000) -> None:
        self.path: Path | None = None
        period = max(MIN_PERIOD_US, round(period_ms * 1000))
        quota = max(MIN_PERIOD_US, round(cores * period))
        v2 = _v2_root()
        if v2 is not None:
            self.path = v2 / name
            self.path.mkdir()
            (self.path / "cpu.max").write_text(f"{quota} {period}")
            return
        v1 = _v1_root()
        if v1 is not None:
            self.path = v1 / name
            self.path.mkdir()
            (self.path / "cpu.cfs_period_us").write_text(str(period))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))

    def throttled(self) -> tuple[int, int, float]:
        """Periods so far, how many of them the quota ran out in, and the seconds the cgroup's
        processes waited for the next period (``cpu.stat``; zeros when not enforced)."""
        if self.path is None:
            return 0, 0, 0.0
        lines = (self.path / "cpu.stat").read_text().splitlines()
        stat = {key: int(value) for key, value in (line.split() for line in lines)}
        waited = stat.get("throttled_time", 0) / 1e9  # v1: nanoseconds
        if "throttled_usec" in stat:
            waited = stat["throttled_usec"] / 1e6
        return stat.get("nr_periods", 0), stat.get("nr_throttled", 0), waited

    @property
    def procs_file(self) -> Path | None:
        """Where to write a PID to put it in this share; None when shares are not enforced."""
        return None if self.path is None else self.path / "cgroup.procs"

    def __enter__(self) -> CpuShare:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.path is None:
            return
        for _ in range(REMOVE_TRIES):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.01)  # its last process is still being reaped
        with contextlib.suppress(OSError):
            self.path.rmdir()
