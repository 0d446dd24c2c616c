-- The properties lists can filter and order by (openmde_store::query::catalog), in columns of
-- their own: timestamps as ticks, enums as member values, text compared without ASCII case.
-- Migration 2's backfill fills them from the documents of rows already stored.
ALTER TABLE alerts ADD COLUMN incident_id INTEGER;
ALTER TABLE alerts ADD COLUMN investigation_id INTEGER;
ALTER TABLE alerts ADD COLUMN assigned_to TEXT COLLATE NOCASE;
ALTER TABLE alerts ADD COLUMN severity INTEGER;
ALTER TABLE alerts ADD COLUMN status INTEGER;
ALTER TABLE alerts ADD COLUMN detection_source INTEGER;
ALTER TABLE alerts ADD COLUMN category TEXT COLLATE NOCASE;
ALTER TABLE alerts ADD COLUMN alert_creation_time INTEGER;
ALTER TABLE alerts ADD COLUMN last_event_time INTEGER;
ALTER TABLE alerts ADD COLUMN last_update_time INTEGER;

-- Alerts list in order of lastUpdateTime by default (then id), so each equality column is
-- indexed with that order after it: `severity eq 'High' and lastUpdateTime ge ...` reads its
-- first page straight from one index. Time columns serve their own ranges and orderings.
CREATE INDEX alerts_by_incident_id ON alerts (tenant, incident_id, last_update_time, id);
CREATE INDEX alerts_by_investigation_id ON alerts (tenant, investigation_id, last_update_time, id);
CREATE INDEX alerts_by_assigned_to ON alerts (tenant, assigned_to COLLATE NOCASE, last_update_time, id);
CREATE INDEX alerts_by_severity ON alerts (tenant, severity, last_update_time, id);
CREATE INDEX alerts_by_status ON alerts (tenant, status, last_update_time, id);
CREATE INDEX alerts_by_detection_source ON alerts (tenant, detection_source, last_update_time, id);
CREATE INDEX alerts_by_category ON alerts (tenant, category COLLATE NOCASE, last_update_time, id);
CREATE INDEX alerts_by_alert_creation_time ON alerts (tenant, alert_creation_time, id);
CREATE INDEX alerts_by_last_event_time ON alerts (tenant, last_event_time, id);
CREATE INDEX alerts_by_last_update_time ON alerts (tenant, last_update_time, id);
DROP INDEX alerts_by_machine;
CREATE INDEX alerts_by_machine ON alerts (tenant, machine_id, last_update_time, id);

ALTER TABLE machines ADD COLUMN first_seen INTEGER;
ALTER TABLE machines ADD COLUMN os_platform TEXT COLLATE NOCASE;
ALTER TABLE machines ADD COLUMN version TEXT COLLATE NOCASE;
ALTER TABLE machines ADD COLUMN last_ip_address TEXT COLLATE NOCASE;
ALTER TABLE machines ADD COLUMN health_status INTEGER;
ALTER TABLE machines ADD COLUMN device_value INTEGER;
ALTER TABLE machines ADD COLUMN rbac_group_id INTEGER;
ALTER TABLE machines ADD COLUMN risk_score INTEGER;
ALTER TABLE machines ADD COLUMN exposure_level INTEGER;
ALTER TABLE machines ADD COLUMN aad_device_id TEXT COLLATE NOCASE;
ALTER TABLE machines ADD COLUMN onboarding_status INTEGER;

-- Machines are clustered by (tenant, id), so each index ends in the id already.
CREATE INDEX machines_by_last_seen ON machines (tenant, last_seen);
CREATE INDEX machines_by_os_platform ON machines (tenant, os_platform COLLATE NOCASE);
CREATE INDEX machines_by_version ON machines (tenant, version COLLATE NOCASE);
CREATE INDEX machines_by_last_ip_address ON machines (tenant, last_ip_address COLLATE NOCASE);
CREATE INDEX machines_by_health_status ON machines (tenant, health_status);
CREATE INDEX machines_by_device_value ON machines (tenant, device_value);
CREATE INDEX machines_by_rbac_group_id ON machines (tenant, rbac_group_id);
CREATE INDEX machines_by_risk_score ON machines (tenant, risk_score);
CREATE INDEX machines_by_exposure_level ON machines (tenant, exposure_level);
CREATE INDEX machines_by_aad_device_id ON machines (tenant, aad_device_id COLLATE NOCASE);
CREATE INDEX machines_by_onboarding_status ON machines (tenant, onboarding_status);
