"""HTTPS transport shared by everything feedmgr fetches (feed index, packages, release data).

``feedmgr.net.urls`` checks and displays URLs without importing anything heavy;
``feedmgr.net.transport`` is the client (TLS, proxy, retries, deadlines, bounded reads).
"""

# docs/online-updates.md, "Deadlines": the defaults of network.deadline and network.min_rate,
# kept here so that feedmgr.config and the transport share them without importing requests.
DEFAULT_DEADLINE_SECONDS = 900
DEFAULT_MIN_RATE = 1024
# A body is measured against the minimum rate only after this long (a slow start is normal).
RATE_GRACE_SECONDS = 20.0
