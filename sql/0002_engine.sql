-- The sync engine: per-product state, the run's planned products, and resumable bulk operations.

-- One row per product this config created or adopted: what Shopify holds as of our last write.
CREATE TABLE product_states (
    config_id          text NOT NULL REFERENCES product_sync_configs (id) ON DELETE CASCADE,
    product_key        text NOT NULL,
    shopify_product_id text NOT NULL,
    handle             text,
    content_hash       text,                  -- NULL: rewrite at the next run (adopted, archived, failed)
    written            jsonb,                 -- the productSet input last written, for dry-run diffs
    state              text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'archived', 'draft')),
    adopted            boolean NOT NULL DEFAULT false,
    last_run_id        bigint REFERENCES sync_runs (id) ON DELETE SET NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (config_id, product_key)
);
CREATE INDEX product_states_by_shopify_id ON product_states (shopify_product_id);

-- The products of one run, as mapped from the feed, and what the plan decided for each.
-- Kept until the run ends so that a run interrupted while publishing can be resumed.
CREATE TABLE run_products (
    run_id             bigint NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    product_key        text NOT NULL,
    ordinal            integer,               -- position in the feed; NULL for deletions
    content_hash       text,
    skus               text[] NOT NULL DEFAULT '{}',
    input              jsonb,                 -- the productSet input, without Shopify ids
    action             text CHECK (action IN ('create', 'update', 'unchanged', 'delete', 'archive', 'draft')),
    shopify_product_id text,
    outcome            text CHECK (outcome IN ('ok', 'failed', 'unknown')),
    message            text,
    PRIMARY KEY (run_id, product_key)
);
CREATE INDEX run_products_work ON run_products (run_id, ordinal) WHERE action IN ('create', 'update');

ALTER TABLE sync_runs ADD COLUMN bulk_operations jsonb NOT NULL DEFAULT '[]';
ALTER TABLE sync_runs ADD COLUMN plan jsonb;

-- False for an adopted variant that is not stocked at the config's location: Shopify refuses stock
-- updates there, so its stock is left alone (and said so) instead of failing the whole product.
ALTER TABLE products ADD COLUMN stocked boolean NOT NULL DEFAULT true;

-- At most one queued sync per config: a second request or scheduler finds the first instead.
CREATE UNIQUE INDEX sync_runs_one_queued ON sync_runs (config_id) WHERE status = 'queued';
