-- A VIQ catalog as schema version 1 wrote it (SQLite): three products, one lineage edge.
-- Kept as written at the time (not generated from the migration files), to test the forward migration.
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied TEXT NOT NULL, description TEXT NOT NULL);
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
INSERT INTO schema_version VALUES (1, '2025-01-10T08:00:00+00:00', 'initial');
INSERT INTO product VALUES (1, 'VSC_L1VALD', 'VENUS', 'SUDOUE', ',B3,B4,', 2, 1556879400000000, 1556879408000000,
    X'01030000000100000005000000000000000000F03F0000000000804540000000000000F83F0000000000804540000000000000F83F0000000000C04540000000000000F03F0000000000C04540000000000000F03F0000000000804540',
    '/archive/SUDOUE/L1_20190503.DBL', 1000, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 1559347200000000,
    NULL, NULL, NULL, NULL, '{}', '[]', '{"origin":"MUSCATE"}');
INSERT INTO product VALUES (2, 'VSC_L1VALD', 'VENUS', 'SUDOUE', ',B7,', NULL, 1556879400000000, 1556879408000000,
    X'01030000000100000005000000333333333333F33FCDCCCCCCCC8C4540333333333333FB3FCDCCCCCCCC8C4540333333333333FB3FCDCCCCCCCCCC4540333333333333F33FCDCCCCCCCCCC4540333333333333F33FCDCCCCCCCC8C4540',
    '/archive/SUDOUE/L1_20190503_b.DBL', 2000, 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 1559347200000000,
    NULL, NULL, NULL, NULL, '{}', '[]', '{}');
INSERT INTO product VALUES (3, 'IMQ_MTFMES', 'VENUS', 'SUDOUE', ',B3,', NULL, 1556879400000000, 1556879408000000, NULL,
    '/work/job-1/mtf.xml', 300, 'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc', 1559347200000000,
    'job-1', 'att-1', 'slanted-edge-mtf', '01.00', '{"GIP_SBPARS":"0002"}', '["partial"]', '{"mtf50":0.31}');
INSERT INTO product_rtree VALUES (1, 1.0, 1.5, 43.0, 43.5);
INSERT INTO product_rtree VALUES (2, 1.2, 1.7, 43.1, 43.6);
INSERT INTO product_input VALUES (3, 1);
