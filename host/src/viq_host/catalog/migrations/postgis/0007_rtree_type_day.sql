-- Schema version 7 (SQLite: the R*Tree also holds the product type and the sensing day). Nothing changes in
-- PostgreSQL, whose GiST index holds type and time since version 6; the version number stays the same on both
-- backends.
SELECT 1;
