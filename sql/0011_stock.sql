-- What erpsync knows of each variant's stock at the location it writes: the ERP's quantity when the feed
-- last gave it, and the `available` quantity the shop was last known to hold (written or read by erpsync).
-- Stock goes out through inventorySetQuantities with `changeFromQuantity` = `shop_quantity`, so a sale
-- made in the shop since then is seen (CHANGE_FROM_QUANTITY_STALE) instead of silently re-listed.
CREATE TABLE stock_states (
    config_id         text NOT NULL REFERENCES product_sync_configs (id) ON DELETE CASCADE,
    sku               text NOT NULL,
    location_id       text NOT NULL,
    inventory_item_id text,
    erp_quantity      integer,           -- the feed's quantity when last seen
    shop_quantity     integer,           -- `available` as erpsync last wrote or read it
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (config_id, sku, location_id)
);

-- One run's stock: every SKU whose quantity the run compared, and the line (of at most 250 quantities)
-- that writes it; `line` NULL: the shop already holds what the mode wants. Kept until the run ends so a
-- resumed run sends the same lines with the same idempotency keys.
CREATE TABLE run_stock (
    run_id            bigint NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    sku               text NOT NULL,
    product_key       text NOT NULL,
    variant_id        text NOT NULL,
    inventory_item_id text,
    erp_quantity      integer NOT NULL,
    change_from       integer,           -- what the shop is believed to hold (`changeFromQuantity`)
    quantity          integer,           -- what the mode wants it to hold
    line              integer,
    attempt           integer NOT NULL DEFAULT 0,   -- rounds sent again after a compare mismatch
    outcome           text,              -- ok | stale | retry | failed
    message           text,
    PRIMARY KEY (run_id, sku)
);
CREATE INDEX run_stock_lines ON run_stock (run_id, line);
