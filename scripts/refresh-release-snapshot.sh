#!/usr/bin/env bash
# Rebuild the OS release snapshot shipped with feedmgr (feeds/releases/*.json and the
# identical package copy feedmgr/osmatrix/data/*.json) from current public data: SOFA's
# macOS feed and endoflife.date's Windows data. Every release records its source.
#
# Online (what a release manager runs before tagging a feedmgr release):
#   scripts/refresh-release-snapshot.sh
# Offline, from documents fetched elsewhere (say where they came from):
#   scripts/refresh-release-snapshot.sh \
#     --sofa macos_data_feed.json --sofa-source "macadmins/sofa v2/macos_data_feed.json @COMMIT (DATE)" \
#     --windows windows.md --windows-source "endoflife-date/endoflife.date products/windows.md @COMMIT (DATE)"
# Then review `git diff feeds/releases` and commit. Nothing is edited by hand.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
sofa="" sofa_source="" windows="" windows_source=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sofa) sofa=$2; shift 2 ;;
    --sofa-source) sofa_source=$2; shift 2 ;;
    --windows) windows=$2; shift 2 ;;
    --windows-source) windows_source=$2; shift 2 ;;
    *) echo "usage: $0 [--sofa FILE --sofa-source TEXT --windows FILE --windows-source TEXT]" >&2; exit 2 ;;
  esac
done

home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
if [ -z "$sofa$windows" ]; then
  feedmgr --home "$home" releases update
else
  if [ -z "$sofa" ] || [ -z "$windows" ] || [ -z "$sofa_source" ] || [ -z "$windows_source" ]; then
    echo "$0: offline needs --sofa, --sofa-source, --windows and --windows-source" >&2
    exit 2
  fi
  feedmgr --home "$home" releases import --sofa "$sofa" --source "$sofa_source"
  feedmgr --home "$home" releases import --windows "$windows" --source "$windows_source"
fi
feedmgr --home "$home" releases export --no-shipped -o "$repo/feeds/releases"
cp "$repo"/feeds/releases/*.json "$repo/feedmgr/osmatrix/data/"
