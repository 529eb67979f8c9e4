-- erpsync schema, first version. Table names are the seed's.

CREATE TABLE product_sync_configs (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    connection_type text NOT NULL,
    config          jsonb NOT NULL,              -- the config with its secrets taken out
    secrets         text,                        -- Fernet token of the secrets, keyed by [security] secret_key
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX product_sync_configs_enabled ON product_sync_configs (enabled) WHERE enabled;

CREATE TABLE sync_runs (
    id                 bigserial PRIMARY KEY,
    config_id          text NOT NULL REFERENCES product_sync_configs (id) ON DELETE CASCADE,
    status             text NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'running', 'succeeded', 'partial',
                                         'needs_attention', 'failed', 'canceled')),
    trigger            text NOT NULL DEFAULT 'api',  -- schedule | api | cli
    dry_run            boolean NOT NULL DEFAULT false,
    allow_mass_delete  boolean NOT NULL DEFAULT false,
    stage              text,                         -- the stage running now, for progress and resume
    counts             jsonb NOT NULL DEFAULT '{}',
    timings            jsonb NOT NULL DEFAULT '{}',  -- seconds per stage
    progress           jsonb NOT NULL DEFAULT '{}',
    bulk_operation_ids text[] NOT NULL DEFAULT '{}', -- stored before waiting on them, so a run can resume
    feed_sha256        text,
    feed_bytes         bigint,
    error              text,
    worker             text,
    queued_at          timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    finished_at        timestamptz,
    heartbeat_at       timestamptz
);
CREATE INDEX sync_runs_config_recent ON sync_runs (config_id, id DESC);
CREATE INDEX sync_runs_active ON sync_runs (config_id) WHERE status IN ('queued', 'running');
-- At most one running sync per config, whatever the number of workers.
CREATE UNIQUE INDEX sync_runs_one_running ON sync_runs (config_id) WHERE status = 'running';

CREATE TABLE products (
    config_id          text NOT NULL REFERENCES product_sync_configs (id) ON DELETE CASCADE,
    sku                text NOT NULL,
    product_key        text NOT NULL,               -- groups a product's variants; the SKU when ungrouped
    shopify_product_id text,
    shopify_variant_id text,
    handle             text,
    content_hash       text,                        -- hash of the product as last written successfully
    adopted            boolean NOT NULL DEFAULT false,  -- found in the shop rather than created by us
    last_run_id        bigint REFERENCES sync_runs (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (config_id, sku)
);
CREATE INDEX products_by_key ON products (config_id, product_key);
CREATE INDEX products_by_shopify_product ON products (shopify_product_id);

CREATE TABLE sync_logs (
    id         bigserial PRIMARY KEY,
    config_id  text NOT NULL REFERENCES product_sync_configs (id) ON DELETE CASCADE,
    run_id     bigint REFERENCES sync_runs (id) ON DELETE CASCADE,
    level      text NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error')),
    sku        text,
    message    text NOT NULL,
    details    jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_logs_recent ON sync_logs (id DESC);
CREATE INDEX sync_logs_by_config ON sync_logs (config_id, id DESC);
CREATE INDEX sync_logs_by_run ON sync_logs (run_id, id);
CREATE INDEX sync_logs_by_level ON sync_logs (level, id DESC);
