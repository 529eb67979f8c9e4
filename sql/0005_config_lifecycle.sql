-- A config's history outlives it: deleting a config keeps its runs and their log lines
-- (`erpsync configs delete --purge`, `DELETE /configs/{id}?purge=true` remove them too), and
-- `[sync] journal_days` prunes them by age instead.
ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS sync_runs_config_id_fkey;
ALTER TABLE sync_logs DROP CONSTRAINT IF EXISTS sync_logs_config_id_fkey;
CREATE INDEX IF NOT EXISTS sync_logs_by_time ON sync_logs (created_at);

-- When the config was created or last enabled: with `[sync] first_run = "schedule"` its first run
-- comes one interval (or the next cron time) after it, not at once.
ALTER TABLE product_sync_configs ADD COLUMN enabled_at timestamptz NOT NULL DEFAULT now();
