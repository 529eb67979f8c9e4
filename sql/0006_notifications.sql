-- Webhook notifications: one per open problem of a config and one when it is resolved, delivered
-- with retries by the scheduling process (erpsync/notify.py).

-- Whether a finished run has been looked at for notifications; runs finished before this migration
-- count as looked at, so history is never announced.
ALTER TABLE sync_runs ADD COLUMN notified boolean NOT NULL DEFAULT false;
UPDATE sync_runs SET notified = true WHERE finished_at IS NOT NULL;
CREATE INDEX sync_runs_to_notify ON sync_runs (finished_at) WHERE NOT notified AND finished_at IS NOT NULL;

-- The problem each config has open (failed, needs_attention or partial), none when it is well.
CREATE TABLE notify_states (
    config_id  text PRIMARY KEY,
    problem    text CHECK (problem IN ('failed', 'needs_attention', 'partial')),
    run_id     bigint,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- One delivery to one webhook; kept after delivery for the record, pruned with the runs.
CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    config_id       text NOT NULL,
    run_id          bigint,
    event           text NOT NULL CHECK (event IN ('failed', 'needs_attention', 'partial', 'recovered')),
    webhook         text NOT NULL,
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE delivered_at IS NULL;
