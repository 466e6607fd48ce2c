"""What an ingest worker needs to check payload documents, without importing pydantic.

Above all a fast acceptance test for ``checks/*.json`` that never holds a document's object
tree.

Predefined conditions are most of a large feed's bytes, and a document may be 32 MiB. Built
whole by pydantic, such a document holds about 3 times its size in Python objects (94 MB
for 32 MiB) and validates at about 80 MB/s. msgspec first splits the document into its
conditions without copying them (``msgspec.Raw`` views into the bytes), then checks each
condition against the same closed schema as msgspec types and drops it at once: about
430 MB/s, and the memory of the document plus a small view per condition.

This check only ever *accepts*. The schema of record is ``feedmgr.feed.payload``
(pydantic): a document this check does not accept is validated there, which either names
the first problem or accepts it after all (msgspec refuses a few documents pydantic takes,
such as a key given twice whose first value is invalid). So every verdict and every message
stays pydantic's; ``tests/feed/test_payload_fast.py`` holds this module to accepting nothing
pydantic refuses. The module imports neither pydantic nor the store, so an ingest worker
that only meets ``checks/*.json`` starts fast (pydantic costs it 100 ms of a 2-core
machine's CPU).

``os/catalog.json``, ``modules/compliance.json`` and ``charts/av.json`` get the same
treatment (``accepted_model``; ``tests/feed/test_payload_models_fast.py``), so a valid feed's
payload is verified without pydantic.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

import msgspec

from feedmgr.pep440 import is_pep440

# Every JSON payload is read whole, so its size bounds ingest memory: 32 MiB is far above any
# real document and, with the checks below, keeps an ingest's peak RSS under 100 MB.
MAX_JSON_PAYLOAD_BYTES = 32 * 1024 * 1024
# The catalog, the modules and the AV chart are built whole as pydantic models (the checks
# use them, and the OS tree is only sound as a whole): about 5.5 times their size in memory,
# so 32 MiB would need 175 MB. 4 MiB (22 MB of models) keeps the ingest under 100 MB and is
# over a thousand times the sample catalog and several times a chart of every AV product.
MAX_MODEL_PAYLOAD_BYTES = 4 * 1024 * 1024
CHECKS_PATH = re.compile(r"^checks/[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.json$")
CATALOG_PATH = "os/catalog.json"
COMPLIANCE_PATH = "modules/compliance.json"
AV_CHART_PATH = "charts/av.json"
MODEL_PATHS = frozenset((CATALOG_PATH, COMPLIANCE_PATH, AV_CHART_PATH))


def is_payload_path(path: str) -> bool:
    """True when a feed may carry a payload file at ``path``."""
    return path in MODEL_PATHS or bool(CHECKS_PATH.match(path))


def max_payload_bytes(path: str) -> int:
    """The largest document a feed may carry at ``path``."""
    return MAX_JSON_PAYLOAD_BYTES if CHECKS_PATH.match(path) else MAX_MODEL_PAYLOAD_BYTES


_Family = Literal["macos", "windows", "linux"]


class _Condition(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    # Mirrors feedmgr.feed.payload.PredefinedCondition field for field.
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: Literal["service", "file", "registry", "application", "patch", "antimalware", "script"]
    platforms: Annotated[list[_Family], msgspec.Meta(min_length=1)]
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    definition: dict[str, str | int | bool] = {}


class _Envelope(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    format: Literal["feedmgr-checks/1"]
    conditions: list[msgspec.Raw]


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_CONDITION = msgspec.json.Decoder(_Condition)

# The catalog, the modules and the AV chart mirror feedmgr.feed.payload's models field for
# field; what a pydantic validator checks beyond types (PEP 440 versions, the OS tree) is
# checked after decoding, in _model_sound.
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class _OsNode(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    name: _Name
    family: _Family
    parent: _Name | None = None
    codename: _Name | None = None
    min_version: str | None = None
    max_version: str | None = None
    released: date | None = None
    min_agent_version: str | None = None
    min_compliance_module_version: str | None = None


class _OsCatalog(msgspec.Struct, forbid_unknown_fields=True):
    format: Literal["feedmgr-os-catalog/1"]
    nodes: Annotated[list[_OsNode], msgspec.Meta(min_length=1)]


class _ComplianceModule(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    platform: _Family
    version: str
    released: date | None = None
    min_agent_version: str | None = None


class _ComplianceModules(msgspec.Struct, forbid_unknown_fields=True):
    format: Literal["feedmgr-compliance-modules/1"]
    modules: list[_ComplianceModule]


class _AvProduct(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    name: _Name
    category: Literal["antivirus", "antispyware", "antimalware"]
    platforms: Annotated[list[_Family], msgspec.Meta(min_length=1)]
    product_versions: Annotated[str, msgspec.Meta(max_length=200)] = "all"
    min_compliance_module_version: str | None = None


class _AvVendor(msgspec.Struct, forbid_unknown_fields=True):
    name: _Name
    products: list[_AvProduct]


class _AvChart(msgspec.Struct, forbid_unknown_fields=True):
    format: Literal["feedmgr-av-chart/1"]
    vendors: list[_AvVendor]


_MODEL_DECODERS: dict[str, msgspec.json.Decoder[msgspec.Struct]] = {
    CATALOG_PATH: msgspec.json.Decoder(_OsCatalog),
    COMPLIANCE_PATH: msgspec.json.Decoder(_ComplianceModules),
    AV_CHART_PATH: msgspec.json.Decoder(_AvChart),
}


def _versions_sound(*texts: str | None) -> bool:
    return all(text is None or is_pep440(text) for text in texts)


def _catalog_sound(catalog: _OsCatalog) -> bool:
    from packaging.version import Version

    by_name: dict[str, _OsNode] = {}
    for node in catalog.nodes:
        if node.name in by_name or not _versions_sound(
            node.min_version,
            node.max_version,
            node.min_agent_version,
            node.min_compliance_module_version,
        ):
            return False
        if (node.min_version is None) != (node.max_version is None):
            return False
        if (
            node.min_version is not None
            and node.max_version is not None
            and Version(node.min_version) > Version(node.max_version)
        ):
            return False
        by_name[node.name] = node
    for node in catalog.nodes:
        seen = {node.name}
        current = node
        while current.parent is not None:
            parent = by_name.get(current.parent)
            if parent is None or parent.family != current.family or parent.name in seen:
                return False
            seen.add(parent.name)
            current = parent
    return True


def _model_sound(document: msgspec.Struct) -> bool:
    if isinstance(document, _OsCatalog):
        return _catalog_sound(document)
    if isinstance(document, _ComplianceModules):
        return all(
            _versions_sound(module.version, module.min_agent_version) for module in document.modules
        )
    assert isinstance(document, _AvChart)
    # Thousands of products share a few hundred module versions: each is parsed once.
    return _versions_sound(
        *{
            product.min_compliance_module_version
            for vendor in document.vendors
            for product in vendor.products
        }
    )


def accepted_model(path: str, data: bytes) -> msgspec.Struct | None:
    """The decoded ``os/catalog.json``, ``modules/compliance.json`` or ``charts/av.json``
    when ``data`` is certainly valid at ``path``; None when pydantic has to decide."""
    decoder = _MODEL_DECODERS.get(path)
    if decoder is None or len(data) > MAX_MODEL_PAYLOAD_BYTES:
        return None
    try:
        document = decoder.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None
    return document if _model_sound(document) else None


def checks_accepted(data: bytes) -> bool:
    """True when ``data`` is certainly a valid ``checks/*.json`` document; False when
    pydantic has to decide (and name the problem)."""
    try:
        envelope = _ENVELOPE.decode(data)
        decode = _CONDITION.decode
        for condition in envelope.conditions:
            decode(condition)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


def condition_count(data: bytes) -> int | None:
    """How many conditions an accepted ``checks/*.json`` document holds (None when the
    fast check does not accept it), without building them."""
    if not checks_accepted(data):
        return None
    return len(_ENVELOPE.decode(data).conditions)


def certainly_valid(path: str, data: bytes) -> bool:
    """True when msgspec accepts ``data`` at ``path``; False when pydantic has to decide
    (``schema_refusal``)."""
    if CHECKS_PATH.match(path):
        return len(data) <= MAX_JSON_PAYLOAD_BYTES and checks_accepted(data)
    return accepted_model(path, data) is not None


def schema_refusal(path: str, data: bytes) -> str | None:
    """The schema of record's verdict on a document ``certainly_valid`` did not accept:
    the first problem pydantic names, or None when it accepts the document after all."""
    from feedmgr.errors import SchemaError
    from feedmgr.feed.payload import validate_payload

    try:
        validate_payload(path, data, path)
    except SchemaError as exc:
        return exc.problem
    return None


def schema_problem(path: str, data: bytes) -> str | None:
    """Why one payload document breaks its schema, or None when it is valid.

    Run in the ingest's worker processes too: a plain string crosses the process boundary
    safely, where an exception might not.
    """
    return None if certainly_valid(path, data) else schema_refusal(path, data)
