"""One network on many nodes: the bus that carries a node's events to the others (Redis).

``bus.py`` is the seam (`Bus`, and `LocalBus` for a single node); ``redis_bus.py`` the network's
bus on Redis, whose atomic Lua scripts are in ``scripts.py``. Importing ``redis_bus`` needs the
``cluster`` extra (``pip install 'chinwag[cluster]'``).
"""

from chinwag.cluster.bus import Bus, LocalBus, NetworkUnreachableError, OnEvents, OnSplit

__all__ = ["Bus", "LocalBus", "NetworkUnreachableError", "OnEvents", "OnSplit"]
