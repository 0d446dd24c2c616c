-- Lists of alerts walk these indexes in lastUpdateTime order from the oldest alert. Retention is
-- checked on last_update; with it in the index, alerts outside retention are skipped without
-- reading their rows (GET /api/alerts?$top=100 on 300,000 alerts: 30 ms before, 3.4 ms after).
DROP INDEX alerts_by_last_update_time;
CREATE INDEX alerts_by_last_update_time ON alerts (tenant, last_update_time, id, last_update);
DROP INDEX alerts_by_machine;
CREATE INDEX alerts_by_machine ON alerts (tenant, machine_id, last_update_time, id, last_update);
