-- Schema version 7: the R*Tree holds, beside the footprint's bounding box, the product type and the sensing day, so
-- "type T over this area (in this window)" is one R*Tree search that returns only the rows of that type and window.
-- Before, it returned every product over the area (39,000 rows at 1 M products for a 5-degree box) and each was
-- looked up in the product table for its type and time. The type is a 20-bit code of its name (viq_type_code(),
-- a function the catalog registers on its connection); the day is sensing_start in days since 1970 (min_day) and one
-- day later (max_day); products without sensing start get -1..0. The R*Tree stores 32-bit floats rounded outwards,
-- so it only preselects: the exact type, time and intersection tests stay in the query.
CREATE VIRTUAL TABLE product_box USING rtree (
    id, min_lon, max_lon, min_lat, max_lat, min_kind, max_kind, min_day, max_day
);
INSERT INTO product_box (id, min_lon, max_lon, min_lat, max_lat, min_kind, max_kind, min_day, max_day)
SELECT r.id, r.min_lon, r.max_lon, r.min_lat, r.max_lat,
       viq_type_code(p.product_type) - 0.25, viq_type_code(p.product_type) + 0.25,
       coalesce(p.sensing_start / 86400000000.0, -1.0), coalesce(p.sensing_start / 86400000000.0 + 1.0, 0.0)
FROM product_rtree r JOIN product p ON p.id = r.id ORDER BY r.id;
DROP TABLE product_rtree;
