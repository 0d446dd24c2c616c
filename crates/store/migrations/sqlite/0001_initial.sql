-- Timestamps are INTEGER 100 ns ticks since the Unix epoch (see openmde_model::Timestamp).
CREATE TABLE tenants (
    key     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    name    TEXT NOT NULL,
    domain  TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created INTEGER NOT NULL
);

CREATE TABLE apps (
    client_id     TEXT PRIMARY KEY,
    tenant        INTEGER NOT NULL REFERENCES tenants (key),
    object_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    secret_sha256 BLOB NOT NULL,
    roles         TEXT NOT NULL, -- JSON array of permission names
    created       INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    private_key_pem TEXT NOT NULL,
    certificate_der BLOB NOT NULL,
    created         INTEGER NOT NULL
);

-- Entities are canonical JSON documents; columns beside them exist only to find rows.
-- Machines are clustered by key: a lookup is one b-tree descent that ends at the document.
CREATE TABLE machines (
    tenant    INTEGER NOT NULL REFERENCES tenants (key),
    id        TEXT NOT NULL,
    dns_name  TEXT,
    last_seen INTEGER,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE INDEX machines_by_dns_name ON machines (tenant, dns_name COLLATE NOCASE);

CREATE TABLE alerts (
    tenant      INTEGER NOT NULL REFERENCES tenants (key),
    id          TEXT NOT NULL,
    machine_id  TEXT,
    -- lastUpdateTime, else alertCreationTime, else the time of import: what retention compares.
    last_update INTEGER NOT NULL,
    doc         TEXT NOT NULL, -- with "evidence": []
    evidence    TEXT NOT NULL  -- the evidence array, served with $expand=evidence
);
CREATE UNIQUE INDEX alerts_by_id ON alerts (tenant, id);
-- Covers GET /api/alerts/{id}/machine without touching the (large) alert rows.
CREATE INDEX alerts_machine ON alerts (tenant, id, machine_id, last_update);
-- A machine's alerts (CreateAlertByReference's merge rule, /machines/{id}/alerts).
CREATE INDEX alerts_by_machine ON alerts (tenant, machine_id);
