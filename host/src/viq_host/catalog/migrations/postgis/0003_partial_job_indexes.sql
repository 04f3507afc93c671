-- Schema version 3: the job/attempt/processor lookups only concern products made by a processor; archive
-- products bulk-loaded without one stay out of those indexes (smaller, cheaper ingest).
DROP INDEX product_job;
DROP INDEX product_attempt;
DROP INDEX product_processor;
CREATE INDEX product_job ON product (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX product_attempt ON product (attempt_id) WHERE attempt_id IS NOT NULL;
CREATE INDEX product_processor ON product (processor, processor_version) WHERE processor IS NOT NULL;
