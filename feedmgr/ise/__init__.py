"""Read the deployment from Cisco ISE itself: nodes, system certificates, posture settings.

docs/ise.md says which ISE settings and admin group this needs.
"""
