-- Schema version 5: the site index is ordered by time directly after the site (a site + time window without a
-- product type is a range, not a scan of the whole site) and holds the type and band list, so site searches,
-- band filters and the counts per type of a site are answered from the index alone.
DROP INDEX product_state_site_type_time;
CREATE INDEX product_state_site_time_cov ON product (state, site, sensing_start, product_type, bands);
