-- Schema version 2: rows are never deleted (state + superseded_by + event history); the path is unique among
-- active rows only; the search indexes lead with the state (queries select active rows by default);
-- the measurement time series.
ALTER TABLE product ADD COLUMN state text NOT NULL DEFAULT 'active'
    CHECK (state IN ('active', 'superseded', 'deleted'));
ALTER TABLE product ADD COLUMN superseded_by bigint REFERENCES product (id);
DROP INDEX product_path;
CREATE UNIQUE INDEX product_path_active ON product (path) WHERE state = 'active';
DROP INDEX product_site_type_time;
DROP INDEX product_type_time;
-- the band filter always runs with site/type/time filters; a GIN index on bands cost more at ingest than it saved
DROP INDEX product_bands;
CREATE INDEX product_state_site_type_time ON product (state, site, product_type, sensing_start);
CREATE INDEX product_state_type_time ON product (state, product_type, sensing_start);
CREATE TABLE product_event (
    id bigserial PRIMARY KEY,
    product_id bigint NOT NULL REFERENCES product (id),
    at timestamptz NOT NULL,
    action text NOT NULL,
    detail text NOT NULL DEFAULT ''
);
CREATE INDEX product_event_product ON product_event (product_id, id);
CREATE TABLE measurement (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    value double precision NOT NULL,
    unit text NOT NULL DEFAULT '',
    band text,
    tdi integer,
    direction text,
    uncertainty double precision,
    site text,
    sensing_time timestamptz NOT NULL,
    product_id bigint REFERENCES product (id),
    job_id text,
    attempt_id text,
    processor text,
    processor_version text,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX measurement_series ON measurement (name, sensing_time);
CREATE INDEX measurement_attempt ON measurement (attempt_id);
