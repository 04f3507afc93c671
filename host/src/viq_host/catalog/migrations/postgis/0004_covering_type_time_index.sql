-- Schema version 4: the type + time index carries the band list and the id (INCLUDE), so a band filter and a
-- search's id order are answered by an index-only scan; only the rows of the page are then read from the table.
DROP INDEX product_state_type_time;
CREATE INDEX product_state_type_time_cov ON product (state, product_type, sensing_start) INCLUDE (bands, id);
