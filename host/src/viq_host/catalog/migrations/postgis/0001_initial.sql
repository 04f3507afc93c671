-- VIQ catalog, PostgreSQL 15 + PostGIS 3, schema version 1: products, lineage, GiST and GIN indexes.
CREATE EXTENSION IF NOT EXISTS postgis;
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
