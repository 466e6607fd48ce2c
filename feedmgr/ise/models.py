"""Pydantic models of the ISE API responses feedmgr reads.

The shapes follow Cisco's published response schemas (tests/data/ise, ISE 3.3 patch 1).
Those schemas never forbid additional properties, so neither do these models: a newer ISE
may add fields. Enumerations (roles, services, nodeStatus) are kept as strings for the same
reason; only the values feedmgr acts on ("Session", "Connected") are interpreted.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

SESSION_SERVICE = "Session"
CONNECTED = "Connected"


class IseModel(BaseModel):
    """Base of every ISE response model: open (extra fields kept), frozen, strict types."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


class Link(IseModel):
    """A paging link (``nextPage``, ``previousPage``)."""

    href: str | None = None
    rel: str | None = None
    type: str | None = None


class Node(IseModel):
    """One node of the deployment (``GET /api/v1/deployment/node``)."""

    hostname: Annotated[str, Field(min_length=1, max_length=64)]
    fqdn: Annotated[str, Field(min_length=1, max_length=64)]
    ip_address: str = Field(alias="ipAddress")
    roles: list[str] = Field(default_factory=list)
    services: list[str]
    node_status: str | None = Field(default=None, alias="nodeStatus")

    @property
    def is_psn(self) -> bool:
        """True for a Policy Service node: ISE has no PSN role, the Session service is it."""
        return SESSION_SERVICE in self.services


class NodeList(IseModel):
    """The node list response."""

    response: list[Node]
    version: str | None = None


class SystemCertificate(IseModel):
    """One system certificate's metadata (``GET /api/v1/certs/system-certificate/{host}``).

    The schema requires no field, so every one is optional.
    """

    id: str | None = None
    friendly_name: str | None = Field(default=None, alias="friendlyName")
    issued_to: str | None = Field(default=None, alias="issuedTo")
    issued_by: str | None = Field(default=None, alias="issuedBy")
    valid_from: str | None = Field(default=None, alias="validFrom")
    expiration_date: str | None = Field(default=None, alias="expirationDate")
    key_size: int | None = Field(default=None, alias="keySize")
    signature_algorithm: str | None = Field(default=None, alias="signatureAlgorithm")
    sha256_fingerprint: str | None = Field(default=None, alias="sha256Fingerprint")
    self_signed: bool | None = Field(default=None, alias="selfSigned")
    used_by: str | None = Field(default=None, alias="usedBy")
    group_tag: str | None = Field(default=None, alias="groupTag")
    portals_using_the_tag: str | None = Field(default=None, alias="portalsUsingTheTag")
    serial_number: str | None = Field(default=None, alias="serialNumberDecimalFormat")

    @property
    def sha256_hex(self) -> str | None:
        """``sha256Fingerprint`` (any case, with colons or not) as lower-case hex, or None
        when ISE gave none or something that is not a SHA-256 digest."""
        if not self.sha256_fingerprint:
            return None
        digits = re.sub(r"[^0-9a-fA-F]", "", self.sha256_fingerprint).lower()
        return digits if len(digits) == 64 else None

    @property
    def usages(self) -> list[str]:
        """``usedBy`` split into its usages ("Admin, Portal" -> ["Admin", "Portal"])."""
        if not self.used_by:
            return []
        return [part.strip() for part in self.used_by.split(",") if part.strip()]


class SystemCertificatePage(IseModel):
    """One page of a node's system certificates."""

    response: list[SystemCertificate] = Field(default_factory=list)
    next_page: Link | None = Field(default=None, alias="nextPage")
    previous_page: Link | None = Field(default=None, alias="previousPage")
    version: str | None = None


class ProxySettings(IseModel):
    """The proxy ISE itself uses (posture and feed updates among others)."""

    fqdn: str | None = None
    port: int | None = None
    user_name: str | None = Field(default=None, alias="userName")
    # ISE may return the proxy password; it is neither shown nor kept in a dump.
    password: str | None = Field(default=None, repr=False, exclude=True)
    password_required: bool | None = Field(default=None, alias="passwordRequired")
    bypass_hosts: str | None = Field(default=None, alias="bypassHosts")


class ProxyResponse(IseModel):
    """``GET /api/v1/system-settings/proxy``."""

    response: ProxySettings
    version: str


class InfoEntry(IseModel):
    """One JAXB-style entry of an ERS deployment-info section: a name and an opaque value."""

    name: str | None = None
    value: dict[str, Any] | None = None
    declared_type: str | None = Field(default=None, alias="declaredType")
    scope: str | None = None


class PostureInfo(IseModel):
    """``postureInfo``: Cisco's schema describes only a list of named opaque values."""

    content: list[InfoEntry] = Field(default_factory=list)


class DeploymentInfo(IseModel):
    """The part of ``ERSDeploymentInfo`` feedmgr reads."""

    posture_info: PostureInfo | None = Field(default=None, alias="postureInfo")


class DeploymentInfoResponse(IseModel):
    """``GET /ers/config/deploymentinfo/getAllInfo``."""

    info: DeploymentInfo = Field(alias="ERSDeploymentInfo")
