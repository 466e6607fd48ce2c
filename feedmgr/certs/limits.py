"""What the posture agent's platforms accept in a certificate path, and how to renew a
certificate on it: shared by the checks (cert.*) and the explanation of a refused path."""

from __future__ import annotations

from cryptography import x509

from feedmgr.certs.load import self_issued

# Apple (support article 103769): RSA keys of 2048 bits or more; TLS clients accept EC keys
# on these curves only; SHA-1 and MD5 signatures are refused.
MIN_RSA_BITS = 2048
GOOD_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
WEAK_HASHES = frozenset({"sha1", "md5"})
# An expired or expiring PSN certificate: renewing is not enough, ISE serves the old one
# until the new one is bound to the usages.
RENEW_LEAF_FIX = "renew the certificate and bind the new one to the PSN's portal/admin usages"


def renewal_fix(role: str, cert: x509.Certificate, leaf_fix: str) -> str:
    """How to renew ``cert`` at ``role`` on the path: ``leaf_fix`` for the PSN certificate;
    a root goes to every endpoint's trust store first; an intermediate into ISE's trusted
    certificates."""
    if role == "leaf":
        return leaf_fix
    if self_issued(cert):
        return (
            "renew the root CA and put the renewed root into every endpoint's trust store "
            "(MDM, GPO) and ISE's trusted certificates before this date; reissue the "
            "intermediates and the PSN certificate under it if its key changes"
        )
    return (
        "renew the intermediate CA, import the renewed certificate into ISE's trusted "
        "certificates and reissue the PSN certificate under it"
    )
