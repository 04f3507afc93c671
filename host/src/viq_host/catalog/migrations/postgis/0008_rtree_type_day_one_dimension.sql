-- Schema version 8 (SQLite: product type and sensing day share one R*Tree dimension). Nothing changes in
-- PostgreSQL; the version number stays the same on both backends.
SELECT 1;
