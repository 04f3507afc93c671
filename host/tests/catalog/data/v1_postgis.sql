-- A VIQ catalog as schema version 1 wrote it (PostgreSQL/PostGIS): three products, one lineage edge.
-- Kept as written at the time (not generated from the migration files), to test the forward migration.
CREATE TABLE schema_version (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now(),
    description text NOT NULL);
CREATE TABLE product (
    id bigserial PRIMARY KEY,
    product_type text NOT NULL,
    mission text NOT NULL,
    site text,
    bands text[] NOT NULL DEFAULT '{}',
    tdi integer,
    sensing_start timestamptz,
    sensing_stop timestamptz,
    footprint geometry(Polygon, 4326),
    path text NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    job_id text,
    attempt_id text,
    processor text,
    processor_version text,
    gipp_versions jsonb NOT NULL DEFAULT '{}',
    quality_flags text[] NOT NULL DEFAULT '{}',
    metadata jsonb NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX product_path ON product (path);
CREATE INDEX product_site_type_time ON product (site, product_type, sensing_start);
CREATE INDEX product_type_time ON product (product_type, sensing_start);
CREATE INDEX product_job ON product (job_id);
CREATE INDEX product_attempt ON product (attempt_id);
CREATE INDEX product_processor ON product (processor, processor_version);
CREATE INDEX product_footprint ON product USING gist (footprint);
CREATE INDEX product_bands ON product USING gin (bands);
CREATE TABLE product_input (
    product_id bigint NOT NULL REFERENCES product (id),
    input_id bigint NOT NULL REFERENCES product (id),
    PRIMARY KEY (product_id, input_id)
);
CREATE INDEX product_input_input ON product_input (input_id, product_id);
INSERT INTO schema_version (version, applied, description) VALUES (1, '2025-01-10T08:00:00+00:00', 'initial');
INSERT INTO product (id, product_type, mission, site, bands, tdi, sensing_start, sensing_stop, footprint, path, size,
    sha256, created, job_id, attempt_id, processor, processor_version, gipp_versions, quality_flags, metadata) VALUES
(1, 'VSC_L1VALD', 'VENUS', 'SUDOUE', '{B3,B4}', 2, '2019-05-03T10:30:00Z', '2019-05-03T10:30:08Z',
    ST_GeomFromText('POLYGON((1 43, 1.5 43, 1.5 43.5, 1 43.5, 1 43))', 4326),
    '/archive/SUDOUE/L1_20190503.DBL', 1000, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    '2019-06-01T00:00:00Z', NULL, NULL, NULL, NULL, '{}', '{}', '{"origin": "MUSCATE"}'),
(2, 'VSC_L1VALD', 'VENUS', 'SUDOUE', '{B7}', NULL, '2019-05-03T10:30:00Z', '2019-05-03T10:30:08Z',
    ST_GeomFromText('POLYGON((1.2 43.1, 1.7 43.1, 1.7 43.6, 1.2 43.6, 1.2 43.1))', 4326),
    '/archive/SUDOUE/L1_20190503_b.DBL', 2000, 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
    '2019-06-01T00:00:00Z', NULL, NULL, NULL, NULL, '{}', '{}', '{}'),
(3, 'IMQ_MTFMES', 'VENUS', 'SUDOUE', '{B3}', NULL, '2019-05-03T10:30:00Z', '2019-05-03T10:30:08Z', NULL,
    '/work/job-1/mtf.xml', 300, 'cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc',
    '2019-06-01T00:00:00Z', 'job-1', 'att-1', 'slanted-edge-mtf', '01.00', '{"GIP_SBPARS": "0002"}', '{partial}',
    '{"mtf50": 0.31}');
SELECT setval('product_id_seq', 3);
INSERT INTO product_input VALUES (3, 1);
