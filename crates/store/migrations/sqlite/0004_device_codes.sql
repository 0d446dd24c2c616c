-- Device authorizations (the device code flow): pending until a user signs in at the
-- verification page, redeemed once. In the store, so that every replica sees them.
CREATE TABLE device_codes (
    device_code TEXT PRIMARY KEY,
    user_code   TEXT NOT NULL UNIQUE COLLATE NOCASE,
    tenant      INTEGER NOT NULL REFERENCES tenants (key),
    client_id   TEXT NOT NULL,
    scope       TEXT NOT NULL,
    expires     INTEGER NOT NULL, -- ticks
    user_id     TEXT              -- the approving user's object id, once approved
);
