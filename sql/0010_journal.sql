-- The journal: what each run did to each product it wrote or removed (issue 17), kept after the run's
-- working rows in `run_products` are gone. Unchanged products get no row (the run's counts say how many),
-- so a run that changes nothing writes nothing here. Pruned by age with runs and log lines.
CREATE TABLE run_changes (
    id                 bigserial PRIMARY KEY,
    run_id             bigint NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    config_id          text NOT NULL,
    product_key        text NOT NULL,
    skus               text[] NOT NULL DEFAULT '{}',   -- the product's variants' SKUs (a removal: as last written)
    action             text NOT NULL,                  -- create | update | delete | archive | draft | conflict | held
    changes            jsonb,                          -- an update's [{field, before, after}]; NULL otherwise
    result             text NOT NULL CHECK (result IN ('ok', 'failed', 'retried', 'unknown', 'skipped')),
    attempts           integer NOT NULL DEFAULT 1,     -- lines sent for the product in the run
    shopify_product_id text,
    bulk_operation_id  text,                           -- the operation of the product's last result line
    line_number        integer,                        -- that line's __lineNumber in the operation's file (0-based)
    message            text,
    at                 timestamptz NOT NULL DEFAULT now()
);
-- A run's journal in order, by action; a product's history by any of its SKUs (newest first).
CREATE INDEX run_changes_by_run ON run_changes (run_id, id);
CREATE INDEX run_changes_by_run_action ON run_changes (run_id, action, id);
CREATE INDEX run_changes_by_sku ON run_changes USING gin (skus);
CREATE INDEX run_changes_by_key ON run_changes (config_id, product_key, id DESC);
-- Rows arrive in time order: a BRIN index keeps pruning by age cheap on a large journal.
CREATE INDEX run_changes_at ON run_changes USING brin (at);

-- What the recorder learns per product: the bulk operation and line of its last result line.
ALTER TABLE run_products ADD COLUMN bulk_operation_id text;
ALTER TABLE run_products ADD COLUMN line_number integer;
-- An update's field-level changes, worked out at plan time (the last written input against the new one).
ALTER TABLE run_products ADD COLUMN IF NOT EXISTS changes jsonb;
