"""Client-provisioning (CP) coverage: the rule model, ISE's first-match engine, the coverage
audit and the endpoint inventory reader (docs/provisioning.md).
"""
