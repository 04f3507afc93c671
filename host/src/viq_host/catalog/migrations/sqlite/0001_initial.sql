-- VIQ catalog, SQLite, schema version 1: products, lineage, R*Tree spatial index.
-- Times are integer microseconds since 1970-01-01 UTC; bands are ",B1,B2," (comma-delimited, for instr());
-- footprints are WKB polygons (EPSG:4326) with their bounding boxes in product_rtree.
CREATE TABLE product (
    id INTEGER PRIMARY KEY,
    product_type TEXT NOT NULL,
    mission TEXT NOT NULL,
    site TEXT,
    bands TEXT NOT NULL DEFAULT '',
    tdi INTEGER,
    sensing_start INTEGER,
    sensing_stop INTEGER,
    footprint BLOB,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    created INTEGER NOT NULL,
    job_id TEXT,
    attempt_id TEXT,
    processor TEXT,
    processor_version TEXT,
    gipp_versions TEXT NOT NULL DEFAULT '{}',
    quality_flags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX product_path ON product (path);
CREATE INDEX product_site_type_time ON product (site, product_type, sensing_start);
CREATE INDEX product_type_time ON product (product_type, sensing_start);
CREATE INDEX product_job ON product (job_id);
CREATE INDEX product_attempt ON product (attempt_id);
CREATE INDEX product_processor ON product (processor, processor_version);
CREATE VIRTUAL TABLE product_rtree USING rtree (id, min_lon, max_lon, min_lat, max_lat);
CREATE TABLE product_input (
    product_id INTEGER NOT NULL REFERENCES product (id),
    input_id INTEGER NOT NULL REFERENCES product (id),
    PRIMARY KEY (product_id, input_id)
) WITHOUT ROWID;
CREATE INDEX product_input_input ON product_input (input_id, product_id);
