-- Schema version 5: the site index is ordered by time directly after the site (a site + time window without a
-- product type is a range, not a scan of the whole site) and carries the type, band list and id (INCLUDE), so
-- site searches, band filters and the counts per type of a site are index-only scans.
DROP INDEX product_state_site_type_time;
CREATE INDEX product_state_site_time_cov ON product (state, site, sensing_start) INCLUDE (product_type, bands, id);
