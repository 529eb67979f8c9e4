-- Drift (issue 18): what the shop holds of a config's products when it is not what erpsync last wrote —
-- a merchant's edit, a product deleted or a variant added by hand — found by every run's incremental
-- check (products updated and deleted since the previous checked run) or by a full reconcile.

-- A reconcile run reads the whole shop once before it goes on as an ordinary run.
ALTER TABLE sync_runs ADD COLUMN reconcile boolean NOT NULL DEFAULT false;
-- When the run asked the shop what changed: the next run's window starts at the end of the last run
-- that did (less the overlap), so a run whose check failed leaves no gap.
ALTER TABLE sync_runs ADD COLUMN drift_checked_at timestamptz;

CREATE TABLE drift_findings (
    id                 bigserial PRIMARY KEY,
    config_id          text NOT NULL REFERENCES product_sync_configs (id) ON DELETE CASCADE,
    shop               text NOT NULL,                 -- the shop's domain, for /metrics
    kind               text NOT NULL CHECK (kind IN ('field', 'deleted', 'variant_added', 'variant_removed',
                                                     'duplicate_sku', 'handle_taken')),
    product_key        text,                          -- NULL: no product of this config (a duplicate SKU)
    shopify_product_id text,
    field              text NOT NULL,                 -- `variants[TEE-S].price`, `(product)`, `sku[TEE-S]`
    path               jsonb,                         -- the field's steps, to write it back or keep it
    ours               jsonb,                         -- what erpsync wrote (for `keep`: before the edit)
    theirs             jsonb,                         -- what the shop holds
    policy             text NOT NULL,                 -- the config's drift_policy when it was seen
    action             text NOT NULL,                 -- what was done: written back | kept | reported
    state              text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'settled')),
    first_seen_run_id  bigint REFERENCES sync_runs (id) ON DELETE SET NULL,
    seen_run_id        bigint REFERENCES sync_runs (id) ON DELETE SET NULL,
    first_seen_at      timestamptz NOT NULL DEFAULT now(),
    seen_at            timestamptz NOT NULL DEFAULT now(),
    settled_at         timestamptz,
    settled_run_id     bigint REFERENCES sync_runs (id) ON DELETE SET NULL,
    settled_how        text
);
-- One open finding per field of a product: seen again, it is updated, not repeated.
CREATE UNIQUE INDEX drift_findings_open ON drift_findings (config_id, coalesce(product_key, ''), field)
    WHERE state = 'open';
CREATE INDEX drift_findings_by_config ON drift_findings (config_id, id DESC);

-- The product's `updatedAt` as the shop gave it when erpsync last wrote it or found it as written: a product
-- the drift window lists with that same time is not read again.
ALTER TABLE product_states ADD COLUMN shop_updated_at text;
