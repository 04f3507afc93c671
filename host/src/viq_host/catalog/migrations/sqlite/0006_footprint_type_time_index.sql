-- Schema version 6 (PostgreSQL: the spatial GiST index also holds product type and sensing start). Nothing changes
-- in SQLite, whose R*Tree holds bounding boxes only; the version number stays the same on both backends.
SELECT 1;
