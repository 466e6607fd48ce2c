"""The payload documents of a feed package and their schemas (docs/feed-format.md).

Known payload paths: ``os/catalog.json`` (required), ``modules/compliance.json``,
``charts/av.json`` and ``checks/*.json``. Anything else is rejected so that a feed can carry
nothing we do not understand.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Annotated, Literal, NotRequired

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
    with_config,
)
from typing_extensions import TypedDict

from feedmgr.errors import SchemaError
from feedmgr.feed._model import EdgeModel, VersionText
from feedmgr.feed.manifest import describe_validation_error
from feedmgr.feed.payload_fast import (
    AV_CHART_PATH,
    CATALOG_PATH,
    COMPLIANCE_PATH,
    is_payload_path,
    max_payload_bytes,
)

Family = Literal["macos", "windows", "linux"]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class OsNode(EdgeModel):
    """One node of the OS tree, named as ISE shows it ("Mac OSX", "Mac OSX 15", "Windows All").

    ``min_version``/``max_version`` bound the releases the feed knows for this node,
    inclusive; ``max_version`` covers its own point releases too ("15.7" covers 15.7.2).
    Umbrella nodes such as "Mac OSX" carry no range: they cover what their children cover.
    """

    name: Name
    family: Family
    parent: Name | None = None
    codename: Name | None = None
    min_version: VersionText | None = None
    max_version: VersionText | None = None
    released: date | None = None
    min_agent_version: VersionText | None = None
    min_compliance_module_version: VersionText | None = None

    @model_validator(mode="after")
    def _range_is_ordered(self) -> OsNode:
        from packaging.version import Version

        if (self.min_version is None) != (self.max_version is None):
            raise ValueError(f"{self.name}: min_version and max_version go together")
        if (
            self.min_version is not None
            and self.max_version is not None
            and Version(self.min_version) > Version(self.max_version)
        ):
            raise ValueError(f"{self.name}: min_version is above max_version")
        return self


class OsCatalog(EdgeModel):
    """``os/catalog.json``: the OS families and versions the feed can classify."""

    format: Literal["feedmgr-os-catalog/1"]
    nodes: Annotated[list[OsNode], Field(min_length=1)]

    @model_validator(mode="after")
    def _tree_is_sound(self) -> OsCatalog:
        by_name: dict[str, OsNode] = {}
        for node in self.nodes:
            if node.name in by_name:
                raise ValueError(f"duplicate OS node {node.name!r}")
            by_name[node.name] = node
        for node in self.nodes:
            seen = {node.name}
            current = node
            while current.parent is not None:
                parent = by_name.get(current.parent)
                if parent is None:
                    raise ValueError(f"{current.name!r} names unknown parent {current.parent!r}")
                if parent.family != current.family:
                    raise ValueError(f"{current.name!r} and its parent differ in family")
                if parent.name in seen:
                    raise ValueError(f"OS tree has a cycle through {parent.name!r}")
                seen.add(parent.name)
                current = parent
        return self

    def node(self, name: str) -> OsNode | None:
        """The node with this exact name, if any."""
        return next((n for n in self.nodes if n.name == name), None)


class ComplianceModule(EdgeModel):
    """One compliance-module release for one platform."""

    platform: Family
    version: VersionText
    released: date | None = None
    min_agent_version: VersionText | None = None


class ComplianceModules(EdgeModel):
    """``modules/compliance.json``: compliance-module releases the feed knows."""

    format: Literal["feedmgr-compliance-modules/1"]
    modules: list[ComplianceModule]


class AvProduct(EdgeModel):
    """One anti-malware product of the vendor support chart."""

    name: Name
    category: Literal["antivirus", "antispyware", "antimalware"]
    platforms: Annotated[list[Family], Field(min_length=1)]
    product_versions: Annotated[str, Field(max_length=200)] = "all"
    min_compliance_module_version: VersionText | None = None


class AvVendor(EdgeModel):
    """A vendor and its supported products."""

    name: Name
    products: list[AvProduct]


class AvChart(EdgeModel):
    """``charts/av.json``: the AV/AS vendor support chart."""

    format: Literal["feedmgr-av-chart/1"]
    vendors: list[AvVendor]


Scalar = str | int | bool


# Predefined conditions are most of a large feed's bytes. They are checked as TypedDicts:
# the same strict, closed schema, validated about twice as fast as models because no object
# is built per condition (this keeps a 1 GiB ingest within its time budget).
@with_config(ConfigDict(strict=True, extra="forbid"))
class PredefinedCondition(TypedDict):
    """A predefined posture condition shipped by the feed; ``definition`` stays opaque."""

    name: Name
    kind: Literal["service", "file", "registry", "application", "patch", "antimalware", "script"]
    platforms: Annotated[list[Family], Field(min_length=1)]
    description: NotRequired[Annotated[str, Field(max_length=2000)]]
    definition: NotRequired[dict[str, Scalar]]


@with_config(ConfigDict(strict=True, extra="forbid"))
class PredefinedChecks(TypedDict):
    """``checks/*.json``: a file of predefined conditions."""

    format: Literal["feedmgr-checks/1"]
    conditions: list[PredefinedCondition]


@cache
def _checks_adapter() -> TypeAdapter[PredefinedChecks]:
    # Built on first use: msgspec accepts valid condition documents without it
    # (feedmgr.feed.payload_fast), so most ingests never need it.
    return TypeAdapter(PredefinedChecks)


_MODELS: dict[str, type[BaseModel]] = {
    CATALOG_PATH: OsCatalog,
    COMPLIANCE_PATH: ComplianceModules,
    AV_CHART_PATH: AvChart,
}


def validate_payload(path: str, data: bytes, subject: str) -> BaseModel | PredefinedChecks:
    """Parse one payload document against its schema.

    Raises:
        SchemaError: unknown path, too large, not JSON, or not following its schema.
    """
    if not is_payload_path(path):
        raise SchemaError(subject, f"{path}: not a payload file this feed format allows")
    if len(data) > max_payload_bytes(path):
        raise SchemaError(
            subject,
            f"{path}: {len(data)} bytes, over the limit of {max_payload_bytes(path)} "
            "for this document",
        )
    try:
        # Dates arrive as JSON strings: JSON-mode validation accepts them while strict mode
        # still refuses numbers for strings and the like.
        model = _MODELS.get(path)
        if model is None:
            return _checks_adapter().validate_json(data)
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise SchemaError(subject, f"{path}: {describe_validation_error(exc)}") from exc


def load_catalog(data: bytes, subject: str) -> OsCatalog:
    """Parse ``os/catalog.json`` bytes.

    Raises:
        SchemaError: when the document is invalid.
    """
    catalog = validate_payload(CATALOG_PATH, data, subject)
    assert isinstance(catalog, OsCatalog)
    return catalog
