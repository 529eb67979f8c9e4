-- Bulk result lines (issue 16). `retry` also says how often a line was sent again after a transient line
-- error ('transient:N', after any earlier reason: 'handle transient:1'), and 'mismatch' marks a line whose
-- result named another product than the line sent (failed, never recorded, never sent again).
ALTER TABLE run_products DROP CONSTRAINT run_products_retry_check;
ALTER TABLE run_products ADD CONSTRAINT run_products_retry_check
    CHECK (retry ~ '^((handle|stale|mismatch)( transient:[0-9]+)?|transient:[0-9]+)$');
