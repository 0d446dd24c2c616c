-- Users who sign in with a password (ROPC) and get delegated tokens.
CREATE TABLE users (
    tenant        INTEGER NOT NULL REFERENCES tenants (key),
    object_id     TEXT NOT NULL,
    -- user principal names are unique across tenants, as in Entra (the domain is the tenant's)
    upn           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL, -- argon2id, PHC string
    created       INTEGER NOT NULL,
    PRIMARY KEY (tenant, object_id)
);
