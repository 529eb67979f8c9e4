-- Every run revertible (issue 18): a revert is an ordinary run of the config (trigger 'revert') that names
-- the run it reverts, and the journal keeps what a revert needs to put each product back.
ALTER TABLE sync_runs ADD COLUMN reverts_run_id bigint REFERENCES sync_runs (id) ON DELETE SET NULL;
CREATE INDEX sync_runs_reverts ON sync_runs (reverts_run_id) WHERE reverts_run_id IS NOT NULL;

-- The product as erpsync last wrote it before the run (its productSet input and content hash), taken at
-- plan time for updates and removals (archive, draft, delete): a revert writes it back, or creates a
-- deleted product again from it. NULL for creates, and for a product erpsync had not written before
-- (adopted). Journal rows from before this migration have none: a revert skips those products.
ALTER TABLE run_products ADD COLUMN written_before jsonb;
ALTER TABLE run_products ADD COLUMN hash_before text;
ALTER TABLE run_changes ADD COLUMN written_before jsonb;
ALTER TABLE run_changes ADD COLUMN hash_before text;
