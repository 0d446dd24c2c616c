-- Certificates an application authenticates with (client assertions), beside its secret.
CREATE TABLE app_certificates (
    client_id       TEXT NOT NULL REFERENCES apps (client_id),
    certificate_der BLOB NOT NULL,
    created         INTEGER NOT NULL,
    PRIMARY KEY (client_id, certificate_der)
);
