-- Processed delivery bodies still to prune (store/retention.py): pruned rows leave the index,
-- so each nightly pass reads only what it will change.
CREATE INDEX webhook_deliveries_prunable_idx ON webhook_deliveries (processed_at)
    WHERE status IN ('processed', 'ignored') AND octet_length(body) > 0;
