-- A dry run holds no slot: it may run beside a queued or running sync of the same config.
DROP INDEX sync_runs_one_running;
CREATE UNIQUE INDEX sync_runs_one_running ON sync_runs (config_id) WHERE status = 'running' AND NOT dry_run;
DROP INDEX sync_runs_one_queued;
CREATE UNIQUE INDEX sync_runs_one_queued ON sync_runs (config_id) WHERE status = 'queued' AND NOT dry_run;
