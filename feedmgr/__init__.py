"""feedmgr: keep Cisco ISE posture honest.

Posture feeds, the supported-OS matrix, client-provisioning coverage, PSN certificates and
macOS service posture conditions, checked before users meet the gaps.
"""

__version__ = "0.1.0"
