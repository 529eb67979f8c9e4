-- Ownership: an id of erpsync's own on every product it creates, one owning config per SKU and shop,
-- and what a run compares besides each product's content.

-- The value of the product's `$app.erpsync_id` metafield (a custom ID): creates and their retries go by it,
-- never by handle. Tracked products get the value their key gives; nothing is rewritten for it.
ALTER TABLE product_states ADD COLUMN owner_id text;
UPDATE product_states
SET owner_id = 'erpsync-' || left(encode(sha256(convert_to(config_id || E'\n' || product_key, 'UTF8')), 'hex'), 32);
CREATE INDEX product_states_by_owner_id ON product_states (owner_id);

-- One config owns a SKU in a shop ('' is the default shop, else a config's own shop domain, lowercased).
-- Claimed while the run plans, under a per-shop lock, so two runs cannot both create the same SKU.
CREATE TABLE sku_owners (
    shop        text NOT NULL,
    sku         text NOT NULL,
    config_id   text NOT NULL REFERENCES product_sync_configs (id) ON DELETE CASCADE,
    run_id      bigint REFERENCES sync_runs (id) ON DELETE SET NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (shop, sku)
);
CREATE INDEX sku_owners_by_config ON sku_owners (config_id);
-- SKUs tracked before this migration: the config that tracked a SKU first keeps it; a later config that
-- tracks the same SKU finds it owned by the first and is told so at its next run.
INSERT INTO sku_owners (shop, sku, config_id, claimed_at)
SELECT DISTINCT ON (shop, p.sku) lower(coalesce(c.config -> 'shop' ->> 'shop', '')) AS shop, p.sku, p.config_id,
       p.created_at
FROM products p JOIN product_sync_configs c ON c.id = p.config_id
ORDER BY shop, p.sku, p.created_at, p.config_id;

-- What decides every product's write besides its content (location, currency, mapped fields): a change
-- rewrites each product once. NULL: not known yet (the first run after this migration records it).
CREATE TABLE config_states (
    config_id    text PRIMARY KEY REFERENCES product_sync_configs (id) ON DELETE CASCADE,
    context_hash text,
    context      jsonb,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- 'conflict': a SKU of the product is owned by another config; 'held': the write would remove variants
-- while the delete guard holds the run back. 'retry': written again later in the same run.
ALTER TABLE run_products DROP CONSTRAINT run_products_action_check;
ALTER TABLE run_products ADD CONSTRAINT run_products_action_check
    CHECK (action IN ('create', 'update', 'unchanged', 'delete', 'archive', 'draft', 'conflict', 'held'));
ALTER TABLE run_products DROP CONSTRAINT run_products_outcome_check;
ALTER TABLE run_products ADD CONSTRAINT run_products_outcome_check
    CHECK (outcome IN ('ok', 'failed', 'unknown', 'retry'));
-- 2: the product takes SKUs from other products of the config, so it is written after they gave them up.
ALTER TABLE run_products ADD COLUMN phase smallint NOT NULL DEFAULT 1;
-- Why a line is sent again in the run's last step: 'handle' (another product holds it: sent without one)
-- or 'stale' (an id erpsync tracked is gone from the shop: the product is read back first).
ALTER TABLE run_products ADD COLUMN retry text CHECK (retry IN ('handle', 'stale'));
-- Whether the product in the shop carries its custom ID already: products tracked before this migration
-- do not, and get it by `metafieldsSet` (that metafield alone, nothing else rewritten), a run at a time.
ALTER TABLE product_states ADD COLUMN owner_marked boolean NOT NULL DEFAULT false;
