"""The registry of every check id feedmgr reports: severity, meaning and fix.

``docs/checks.md`` is generated from this table (``feedmgr checks --format markdown``); a
test fails when a check id appears in the code without an entry here, or the page is stale.
Each area's page in docs/ has the details (data fields, thresholds, sources).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckSpec:
    """One check id as users see it documented."""

    id: str
    severity: str
    meaning: str
    fix: str
    doc: str
    command: str


_FEED = ("os-matrix.md", "feedmgr os lag")
_CP = ("provisioning.md", "feedmgr provisioning audit")
_CERT = ("certificates.md", "feedmgr cert check / probe")
_POSTURE = ("posture.md", "feedmgr posture eval / preflight")
_PRE = ("preflight.md", "feedmgr preflight")
_ISE = ("ise.md", "feedmgr preflight with [ise]")
_FLEET = ("posture.md", "feedmgr posture fleet / preflight")


def _spec(where: tuple[str, str], check: str, severity: str, meaning: str, fix: str) -> CheckSpec:
    return CheckSpec(check, severity, meaning, fix, where[0], where[1])


REGISTRY: tuple[CheckSpec, ...] = (
    _spec(
        _FEED,
        "feed.os-lag",
        "warn within --max-days (default 30) of the release, fail after",
        "a released OS version the feed cannot classify: endpoints on it match no OS "
        'condition and get "Bypassing Cisco Secure Client Scan"',
        "install a posture feed that lists the version (feedmgr update), then update ISE's "
        "posture feed",
    ),
    _spec(
        _FEED,
        "feed.expired",
        "fail when expired; warn within 14 days of expiry",
        "nobody is updating posture content; new OS releases will not be classified",
        "install a current feed",
    ),
    _spec(
        _FEED,
        "feed.stale",
        "warn when published more than --stale-days (default 60) ago",
        "new OS releases arrive every few weeks; an old feed will soon lag",
        "check for a newer posture feed",
    ),
    _spec(
        _FEED,
        "releases.stale",
        "warn when the newest release catalog is more than 90 days old",
        "lag detection only sees the releases its catalogs list",
        "feedmgr releases update (offline: releases import --sofa FILE / --windows FILE)",
    ),
    _spec(
        _CP,
        "cp.uncovered",
        "fail",
        'no enabled client-provisioning rule matches: the endpoint gets "Bypassing Cisco '
        'Secure Client Scan"',
        "add a rule for the group on the OS family's umbrella node ('Mac OSX', 'Windows All') "
        "after any per-version rules, so the next release is covered too",
    ),
    _spec(
        _CP,
        "cp.os-unknown",
        "fail",
        "the feed does not classify the endpoint's OS, so no rule can match it: a release "
        "newer than the feed, one older than its oldest node, a Windows Server, or an "
        "unreadable OS string (data.cause)",
        "newer: update the posture feed (feedmgr update; see feedmgr os lag), then ISE's "
        "feed; the others no feed update changes: upgrade the OS or handle it in "
        "authorization policy, fix the OS column",
    ),
    _spec(
        _CP,
        "cp.conditional",
        "warn",
        "covered only through rules with other conditions; when they are false the "
        "endpoint bypasses posture",
        "add a rule without other conditions after the conditional ones",
    ),
    _spec(
        _CP,
        "cp.shadowed",
        "warn",
        "a rule can never match because earlier rules take all its cases, today and after "
        "the next feed",
        "move the rule up, or delete it; never narrow an umbrella rule to version nodes",
    ),
    _spec(
        _CP,
        "cp.future-only",
        "info",
        "a rule on an umbrella node after per-version rules: it matches only the releases a "
        "later feed adds under that node",
        "keep it: it is what gives the next release an agent",
    ),
    _spec(
        _CP,
        "cp.disabled-only",
        "fail",
        "only a disabled rule would have covered these endpoints",
        "enable the rule, or add an enabled rule for this OS and group",
    ),
    _spec(
        _CP,
        "cp.no-agent",
        "fail",
        "the matching rule installs no posture agent (no agent configuration, a native "
        "supplicant configuration only, or no ISE Posture module)",
        "name an agent configuration with an agent package, ISE Posture and a posture profile",
    ),
    _spec(
        _CP,
        "cp.not-posture-capable",
        "info",
        "inventory devices the posture agent does not run on (iOS, Android, Chrome OS, "
        "printers, phones), counted per OS string; not a gap",
        "control their access with authorization rules (MDM compliance, their own group)",
    ),
    _spec(
        _CP,
        "cp.os-blank",
        "warn",
        "inventory endpoints with no OS recorded (ISE's PostureOS stays empty until the "
        "agent reports, so PCs and Macs that hit a CP gap are blank too): the audit cannot "
        "tell whether they get an agent, so they count neither as covered nor as a gap",
        "list them with --examples, look each up in ISE (its endpoint profile, "
        "EndPointPolicy in the full export, tells a phone or printer from a PC or Mac); "
        "explain a PC's or Mac's case with 'feedmgr provisioning match'",
    ),
    _spec(
        _CP,
        "cp.module-too-old",
        "fail",
        "the rule's compliance module is older than the feed's minimum for that OS",
        "upload a newer compliance module to ISE and select it in the agent configuration",
    ),
    _spec(
        _CP,
        "cp.agent-too-old",
        "fail",
        "the rule's Secure Client agent is older than the feed's minimum for that OS",
        "upload a newer Secure Client package to ISE and select it in the agent configuration",
    ),
    _spec(
        _CP,
        "cp.wrong-platform",
        "fail",
        "the rule's agent package or compliance module is built for another OS than the "
        "endpoint's (a Windows package on a Mac OSX rule): ISE offers only agents of the "
        "endpoint's OS, so it gets none",
        "select the package and compliance module built for the rule's OS in its agent "
        "configuration",
    ),
    _spec(
        _CP,
        "cp.unknown-node",
        "warn",
        "a rule names an OS node the feed does not have (a typo matches nothing)",
        "use the OS node name exactly as the feed spells it (feedmgr os list)",
    ),
    _spec(
        _CERT,
        "cert.identity",
        "fail per unmatched FQDN/IP; info per match",
        "the FQDN or IP the agent uses matches no SAN entry (RFC 9525; the CN never counts)",
        "reissue with every PSN FQDN (DNS:) and IP (IP:) in the subjectAltName",
    ),
    _spec(
        _CERT,
        "cert.ip-as-dns",
        "warn",
        "an IP literal written in a dNSName SAN entry: clients ignore it",
        "put the address in an iPAddress SAN entry",
    ),
    _spec(
        _CERT,
        "cert.no-san",
        "fail",
        "no subjectAltName with DNS or IP entries: nothing a client may match",
        "reissue with a subjectAltName holding every FQDN and IP",
    ),
    _spec(
        _CERT,
        "cert.cn-only-match",
        "fail",
        "the name is only in the subject CN: macOS rejects it while Windows may accept it",
        "add the name (or IP) to the subjectAltName",
    ),
    _spec(
        _CERT,
        "cert.wildcard-cn",
        "warn",
        "a wildcard subject CN: Windows EAP supplicants reject it",
        "put a real host name in the CN; keep wildcards in the SAN only",
    ),
    _spec(
        _CERT,
        "cert.expired",
        "fail; warn for a presented certificate the verified path does without",
        "the leaf or a chain certificate is past notAfter",
        "renew and bind the new certificate to the PSN's Admin/Portal usages",
    ),
    _spec(
        _CERT,
        "cert.not-yet-valid",
        "fail",
        "notBefore is in the future",
        "check NTP on the CA and the PSN, or wait until notBefore",
    ),
    _spec(
        _CERT,
        "cert.expiring",
        "warn under 60 days left, fail under 30",
        "expiry breaks posture for every endpoint at once",
        "renew and bind now",
    ),
    _spec(
        _CERT,
        "cert.eku",
        "fail",
        "no serverAuth EKU (required by Apple for certificates issued from 2019-07-01)",
        'reissue with EKU serverAuth (AD CS: a "Web Server"-based template); keep clientAuth '
        "if the certificate also serves pxGrid",
    ),
    _spec(
        _CERT,
        "cert.validity-825",
        "fail",
        "valid for more than 825 days (Apple, issued from 2019-07-01, private CAs too)",
        "reissue with at most 825 days",
    ),
    _spec(
        _CERT,
        "cert.validity-398",
        "fail (with --public-ca)",
        "valid for more than 398 days under a public root (Apple, issued from 2020-09-01)",
        "reissue with at most 398 days",
    ),
    _spec(
        _CERT,
        "cert.sc081",
        "fail (with --public-ca)",
        "longer than CA/B Forum SC-081 allows: 200/100/47 days from 2026-03-15/2027-03-15/"
        "2029-03-15",
        "reissue within the limit and automate renewal",
    ),
    _spec(
        _CERT,
        "cert.key-size",
        "fail",
        "an RSA key under 2048 bits on the leaf or an issuing CA",
        "reissue with RSA 2048+ or ECDSA P-256/P-384; replace weak CA certificates",
    ),
    _spec(
        _CERT,
        "cert.key-type",
        "fail",
        "a DSA key (any size): no TLS 1.3 signature scheme, refused by macOS and Windows",
        "reissue with an ECDSA P-256/P-384 or RSA 2048+ key",
    ),
    _spec(
        _CERT,
        "cert.curve",
        "fail (warn for EdDSA)",
        "an EC key not on P-256, P-384 or P-521",
        "reissue with ECDSA P-256 or P-384 (or RSA 2048+)",
    ),
    _spec(
        _CERT,
        "cert.signature-hash",
        "fail",
        "a SHA-1 or MD5 signature on the leaf or an intermediate",
        "reissue with SHA-256; have the CA reissue a SHA-1 intermediate",
    ),
    _spec(
        _CERT,
        "cert.basic-constraints",
        "fail",
        "the server certificate is a CA (cA=TRUE)",
        "reissue as an end-entity certificate",
    ),
    _spec(
        _CERT,
        "cert.key-usage",
        "fail",
        "keyUsage lacks digitalSignature, or has keyCertSign on a leaf",
        "reissue with digitalSignature (plus keyEncipherment for RSA), without keyCertSign",
    ),
    _spec(
        _CERT,
        "cert.chain",
        "fail (missing intermediate, untrusted root, refused); warn (misordered); info",
        "no path from the leaf to a trust anchor, or intermediates missing or out of order",
        "make the PSN send the full chain, leaf first; give a private root with --ca",
    ),
    _spec(
        _CERT,
        "cert.probe",
        "fail",
        "a PSN port the agent needs gave no certificate (down, filtered, not TLS)",
        "check the PSN is up and 8443, 8905 and 443 are reachable from the endpoints",
    ),
    _spec(
        _POSTURE,
        "posture.policy",
        "fail for a failed mandatory policy, warn for a failed optional one, info otherwise",
        "a posture policy's requirement evaluated against captured launchctl state",
        "the requirement's remediation message; feedmgr posture eval shows each condition's "
        "evidence",
    ),
    _spec(
        _POSTURE,
        "posture.condition",
        "info",
        "one service condition's result with its launchd evidence (criteria decide whether "
        "a failed condition matters)",
        "none needed by itself; see the policy finding",
    ),
    _spec(
        _FLEET,
        "posture.fleet",
        "fail when a mandatory requirement fails on any Mac (more than --fail-over percent), "
        "or when no Mac was evaluated (cannot tell); warn when Macs fail an optional one or "
        "fewer than --fail-over; info otherwise",
        "how many Macs of the fleet would pass, fail or cannot be judged if the requirement "
        "were enforced, from each Mac's bundle",
        "fix the failing Macs named in the report (the requirement's remediation message), "
        "or keep the requirement optional until they are fixed",
    ),
    _spec(
        _FLEET,
        "posture.fleet-bundles",
        "warn when bundles were unreadable; info when stale or duplicate bundles were left out",
        "Macs whose bundle is unreadable or older than --max-age are not in the counts",
        "re-run collect-script --bundle on those Macs through the MDM; when the archive or "
        "folder kept members from being read (unsafe names, links, encryption, damage), "
        "export the bundles again instead",
    ),
    _spec(
        _PRE,
        "posture.conditions",
        "info",
        "the condition files are valid, but no launchctl captures were given to evaluate them",
        "capture a Mac with feedmgr posture collect-script and list the files in [posture]",
    ),
    _spec(
        _ISE,
        "ise.no-psn",
        "warn",
        "ISE lists no node whose services include Session: no node runs the Policy Service "
        "persona, so nothing serves posture",
        "enable the Policy Service persona (Session services) on the nodes agents use",
    ),
    _spec(
        _ISE,
        "ise.psn-status",
        "warn",
        "ISE reports a PSN's nodeStatus as something other than Connected (Disconnected, "
        "ReplicationStopped, NotInSync...)",
        "check the node in Administration > System > Deployment before relying on it",
    ),
    _spec(
        _ISE,
        "ise.psn-unknown",
        "warn",
        "a hand-written [[psn]] names a node ISE does not list as a PSN (a typo or a node "
        "that left the deployment): it is graded for nothing",
        "correct or remove the [[psn]] entry, or enable Session services on that node",
    ),
    _spec(
        _ISE,
        "ise.psn-unlisted",
        "info",
        "ISE lists a PSN that the hand-written [[psn]] entries leave out; it is graded from "
        "what ISE reports",
        "add a [[psn]] entry if agents reach it by other names or IPs",
    ),
    _spec(
        _ISE,
        "ise.cert-mismatch",
        "warn",
        "the certificate a PSN presents on the Portal or Admin port is not one ISE lists for "
        "that usage",
        "check what answers on that port (load balancer, another portal tag) and bind the "
        "intended certificate in ISE",
    ),
    _spec(
        _ISE,
        "ise.cert-expiring",
        "fail when expired or within 30 days; warn within 60 days (as cert.expiring)",
        "a certificate in use that could not be exported (export refused or failed) expires "
        "soon, by the date ISE reports",
        "renew it and bind the new certificate to the same usages in ISE",
    ),
    _spec(
        _ISE,
        "ise.metadata-only",
        "info",
        "certificates in use were graded from ISE's metadata only: ISE refused the export "
        "(HTTP 403, said once per run) or it failed; the message lists the cert.* checks "
        "that leaves out",
        "let the account export certificates, or export them from ISE and grade them with "
        "feedmgr cert check",
    ),
    _spec(
        _ISE,
        "ise.export-rejected",
        "warn",
        "ISE's certificate export is not a safe zip holding the certificate ISE lists "
        "(hostile paths, over the size limits, no or another certificate); it is graded "
        "from metadata instead",
        "export the certificate from ISE's System Certificates page and grade it with "
        "feedmgr cert check",
    ),
    _spec(
        _PRE,
        "preflight.section",
        "fail",
        "a section of the deployment file could not run (missing file, no feed, bad input)",
        "fix the input named in the message, then rerun preflight",
    ),
    _spec(
        _PRE,
        "preflight.skipped",
        "info",
        "the deployment file has no such section, so its checks did not run",
        "add the section if the deployment needs those checks",
    ),
)


def by_id() -> dict[str, CheckSpec]:
    """The registry keyed by check id."""
    return {spec.id: spec for spec in REGISTRY}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    """docs/checks.md: every check, grouped by area."""
    lines = [
        "# Check reference",
        "",
        "Generated from the check registry (`feedmgr/checks.py`) by "
        "`feedmgr checks --format markdown`; do not edit by hand. Every finding carries one of "
        "these ids (`check` in JSON output). The linked pages give data fields and sources.",
    ]
    areas: dict[str, list[CheckSpec]] = {}
    for spec in REGISTRY:
        areas.setdefault(spec.id.split(".", 1)[0], []).append(spec)
    for area, specs in areas.items():
        lines += ["", f"## `{area}.*`", "", "| id | severity | meaning | fix | from |"]
        lines.append("|---|---|---|---|---|")
        lines += [
            f"| `{s.id}` | {_cell(s.severity)} | {_cell(s.meaning)} | {_cell(s.fix)} | "
            f"[{s.command}]({s.doc}) |"
            for s in specs
        ]
    return "\n".join(lines) + "\n"
