"""HTTPS transport shared by everything feedmgr fetches (feed index, packages, release data).

``feedmgr.net.urls`` checks and displays URLs without importing anything heavy;
``feedmgr.net.transport`` is the client (TLS, proxy, retries, deadlines, bounded reads).
"""
