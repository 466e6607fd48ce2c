"""PSN certificate grading: loading, RFC 9525 identity, the check table, the live TLS probe.

``load`` reads PEM/DER/PKCS#7 and finds the leaf; ``identity`` matches reference identities
(RFC 9525); ``chain`` builds the path to a trust anchor; ``checks`` is the table of stable
check ids; ``probe`` fetches the chain a server presents; ``grade`` ties them into a Report.
"""
