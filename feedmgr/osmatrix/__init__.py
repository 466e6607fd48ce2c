"""OS identifiers, version ordering, the supported-OS matrix, release catalogs and lag checks.

The public API (stable for other areas, e.g. client-provisioning audits)::

    from feedmgr.osmatrix import OsTree, classify, parse_os_string

    os_id = parse_os_string("macOS 26.1 (25B78)")     # raises ParseError, nothing else
    found = classify(catalog, os_id)                   # Classification | None
    found.describe()                                   # "Mac OSX 26 -> Mac OSX"
    found.is_under("Mac OSX")                          # True

Build one :class:`OsTree` per catalog when classifying many identifiers.
"""

from feedmgr.osmatrix.classify import Classification, NodeRange, OsTree, classify
from feedmgr.osmatrix.diff import FeedDiff, diff_feeds
from feedmgr.osmatrix.identifier import FAMILIES, Family, OsIdentifier
from feedmgr.osmatrix.lag import LagPolicy, feed_age_findings, lag_report, os_lag_findings
from feedmgr.osmatrix.matrix import MatrixRow, supported_matrix
from feedmgr.osmatrix.parse import parse_os_string
from feedmgr.osmatrix.releases import (
    Release,
    ReleaseCatalog,
    load_release_catalogs,
    parse_release_catalog,
    shipped_release_catalog,
)
from feedmgr.osmatrix.sources import SourceImport, import_endoflife_windows, import_sofa
from feedmgr.osmatrix.version import OsVersion, in_range, parse_version

__all__ = [
    "FAMILIES",
    "Classification",
    "Family",
    "FeedDiff",
    "LagPolicy",
    "MatrixRow",
    "NodeRange",
    "OsIdentifier",
    "OsTree",
    "OsVersion",
    "Release",
    "ReleaseCatalog",
    "SourceImport",
    "classify",
    "diff_feeds",
    "feed_age_findings",
    "import_endoflife_windows",
    "import_sofa",
    "in_range",
    "lag_report",
    "load_release_catalogs",
    "os_lag_findings",
    "parse_os_string",
    "parse_release_catalog",
    "parse_version",
    "shipped_release_catalog",
    "supported_matrix",
]
