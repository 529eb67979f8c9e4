-- Field-level changes (issue 17). The plan compares each changed product's last-written state
-- (`product_states.written`, read only for products whose hash changed) with the run's input and keeps
-- the fields that differ, before -> after, with the lightest mutation that expresses them:
-- 'set' productSet (anything structural, or no last-written state), 'variants' productVariantsBulkUpdate
-- (only variant fields of existing variants), 'stock' the inventory mutations, 'variants+stock' both.
ALTER TABLE run_products ADD COLUMN changes jsonb;
ALTER TABLE run_products ADD COLUMN write_kind text
    CHECK (write_kind IN ('set', 'variants', 'stock', 'variants+stock'));
