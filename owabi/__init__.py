"""owabi: make things right with every person affected by a personal-data leak."""

import os

# Arrow's memory pool (mimalloc) returns the pages of freed buffers to the system at once, not after its
# default delay, which in practice kept them until a later allocation in the same thread: resolve's
# steps free Arrow tables of hundreds of MB and the next step's peak carried them. Measured at 1M
# records (docs/performance.md): the clustering step's own pages 802 -> 704 MiB. Read when pyarrow loads,
# so it is set here, before any module imports it; an operator's own setting is kept.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
