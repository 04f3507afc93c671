#!/usr/bin/env bash
# Re-fetch the web page's third-party assets from the npm registry into host/src/viq_host/api/static/vendor/
# (committed, so `viq serve` works offline; run this only to upgrade them):
#   leaflet/      Leaflet (BSD-2-Clause): leaflet.js, leaflet.css, images/, LICENSE
#   land-110m.geojson  Natural Earth 1:110m land (public domain) from world-atlas (ISC), decoded from TopoJSON
#                      with topojson-client (ISC) at build time: the offline base map (no tile server needed)
set -euo pipefail
cd "$(dirname "$0")/.."
LEAFLET_VERSION="${LEAFLET_VERSION:-1.9.4}"
WORLD_ATLAS_VERSION="${WORLD_ATLAS_VERSION:-2.0.2}"
TOPOJSON_VERSION="${TOPOJSON_VERSION:-3.1.0}"
VENDOR=host/src/viq_host/api/static/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  npm init -y >/dev/null
  npm install --silent --no-audit --no-fund --ignore-scripts \
    "leaflet@${LEAFLET_VERSION}" "world-atlas@${WORLD_ATLAS_VERSION}" "topojson-client@${TOPOJSON_VERSION}"
  node -e '
    const fs = require("fs");
    const topo = require("topojson-client");
    const world = JSON.parse(fs.readFileSync("node_modules/world-atlas/land-110m.json", "utf8"));
    const land = topo.feature(world, world.objects.land);
    const round = (c) => Array.isArray(c[0]) ? c.map(round) : [Math.round(c[0] * 100) / 100, Math.round(c[1] * 100) / 100];
    for (const f of land.features) f.geometry.coordinates = round(f.geometry.coordinates);
    fs.writeFileSync("land-110m.geojson", JSON.stringify(land));
  '
)
rm -rf "$VENDOR/leaflet"
mkdir -p "$VENDOR/leaflet/images"
cp "$work/node_modules/leaflet/dist/leaflet.js" "$work/node_modules/leaflet/dist/leaflet.css" "$VENDOR/leaflet/"
cp "$work/node_modules/leaflet/dist/images/"*.png "$VENDOR/leaflet/images/"
cp "$work/node_modules/leaflet/LICENSE" "$VENDOR/leaflet/LICENSE"
cp "$work/land-110m.geojson" "$VENDOR/land-110m.geojson"
{
  echo "land-110m.geojson: Natural Earth 1:110m land polygons (public domain, naturalearthdata.com),"
  echo "taken from the npm package world-atlas@${WORLD_ATLAS_VERSION} (ISC licence, Mike Bostock) and decoded"
  echo "with topojson-client@${TOPOJSON_VERSION} (ISC licence) by scripts/build-web.sh."
  echo
  cat "$work/node_modules/world-atlas/LICENSE" 2>/dev/null || true
} > "$VENDOR/LICENSE-land-110m.txt"
echo "leaflet ${LEAFLET_VERSION}, world-atlas ${WORLD_ATLAS_VERSION} -> $VENDOR" >&2
