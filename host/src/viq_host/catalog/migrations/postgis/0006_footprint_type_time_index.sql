-- Schema version 6: the spatial index also holds the product type and sensing start (btree_gist operator classes),
-- so "type T over this area" and "type T over this area in this window" are answered by one GiST scan that returns
-- only the rows of that type and window. Before, the planner combined a bitmap of the whole type (166,000 rows at
-- 1 M products) with the footprint bitmap, or read every product over the area. A footprint-only search uses the
-- first column, as it used the old index.
-- btree_gist ships with PostgreSQL and is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS btree_gist;
DROP INDEX product_footprint;
CREATE INDEX product_footprint_type_time ON product USING gist (footprint, product_type, sensing_start);
