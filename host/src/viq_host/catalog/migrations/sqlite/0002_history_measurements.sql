-- Schema version 2: rows are never deleted (state + superseded_by + event history); the path is unique among
-- active rows only; the search indexes lead with the state (queries select active rows by default);
-- the measurement time series.
ALTER TABLE product ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
    CHECK (state IN ('active', 'superseded', 'deleted'));
ALTER TABLE product ADD COLUMN superseded_by INTEGER REFERENCES product (id);
DROP INDEX product_path;
CREATE UNIQUE INDEX product_path_active ON product (path) WHERE state = 'active';
DROP INDEX product_site_type_time;
DROP INDEX product_type_time;
CREATE INDEX product_state_site_type_time ON product (state, site, product_type, sensing_start);
CREATE INDEX product_state_type_time ON product (state, product_type, sensing_start);
CREATE TABLE product_event (
    id INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES product (id),
    at INTEGER NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX product_event_product ON product_event (product_id, id);
CREATE TABLE measurement (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL DEFAULT '',
    band TEXT,
    tdi INTEGER,
    direction TEXT,
    uncertainty REAL,
    site TEXT,
    sensing_time INTEGER NOT NULL,
    product_id INTEGER REFERENCES product (id),
    job_id TEXT,
    attempt_id TEXT,
    processor TEXT,
    processor_version TEXT,
    created INTEGER NOT NULL
);
CREATE INDEX measurement_series ON measurement (name, sensing_time);
CREATE INDEX measurement_attempt ON measurement (attempt_id);
