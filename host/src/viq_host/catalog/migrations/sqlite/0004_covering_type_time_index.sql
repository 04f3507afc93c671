-- Schema version 4: the type + time index also holds the band list, so a band filter (and a search's id order)
-- is answered from the index alone; only the rows of the page are then read from the table.
DROP INDEX product_state_type_time;
CREATE INDEX product_state_type_time_bands ON product (state, product_type, sensing_start, bands);
