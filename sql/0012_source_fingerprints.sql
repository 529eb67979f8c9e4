-- An unchanged feed costs almost nothing (issue 17): what each config's source said of the feed its last
-- succeeded run synced, so that the next run can end `unchanged` without downloading or parsing it.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_status_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check
    CHECK (status IN ('queued', 'running', 'succeeded', 'partial', 'needs_attention', 'failed', 'canceled',
                      'unchanged'));

-- Written only when a run ended `succeeded` (everything written); a config's later run that ends in any
-- other way than `unchanged` makes the next run do the work again.
CREATE TABLE source_fingerprints (
    config_id      text PRIMARY KEY REFERENCES product_sync_configs (id) ON DELETE CASCADE,
    run_id         bigint REFERENCES sync_runs (id) ON DELETE SET NULL,  -- the run that synced the feed
    feed_name      text NOT NULL,
    validator      jsonb,            -- the source's own word: ETag/Last-Modified, FTP modify+size, stat
    feed_sha256    text NOT NULL,
    feed_bytes     bigint NOT NULL,
    config_version text NOT NULL,    -- the config, erpsync's HASH_VERSION and the shop it writes to
    context_hash   text,             -- config_states.context_hash when the feed was synced
    synced_at      timestamptz NOT NULL DEFAULT now()
);
