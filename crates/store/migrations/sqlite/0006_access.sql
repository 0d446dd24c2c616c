-- Role-based access (mde-api.md §3): user groups and their members, roles assigned to user
-- groups, device groups with ranked rules. Lists of ids are JSON arrays.
CREATE TABLE user_groups (
    tenant       INTEGER NOT NULL REFERENCES tenants (key),
    id           TEXT NOT NULL,
    display_name TEXT NOT NULL,
    created      INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX user_groups_by_name ON user_groups (tenant, display_name COLLATE NOCASE);

CREATE TABLE user_group_members (
    tenant   INTEGER NOT NULL,
    group_id TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (tenant, group_id, user_id),
    FOREIGN KEY (tenant, group_id) REFERENCES user_groups (tenant, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, object_id) ON DELETE CASCADE
);
CREATE INDEX user_group_members_by_user ON user_group_members (tenant, user_id);

CREATE TABLE roles (
    tenant      INTEGER NOT NULL REFERENCES tenants (key),
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    permissions TEXT NOT NULL, -- JSON array of kebab-case permission names
    user_groups TEXT NOT NULL, -- JSON array of user group ids
    built_in    INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX roles_by_name ON roles (tenant, name COLLATE NOCASE);

CREATE TABLE device_groups (
    tenant           INTEGER NOT NULL REFERENCES tenants (key),
    id               INTEGER NOT NULL, -- 0: Ungrouped devices (default)
    priority         INTEGER NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT,
    automation_level TEXT NOT NULL,
    rules            TEXT NOT NULL, -- EDMX DeviceGroupRules
    user_groups      TEXT NOT NULL, -- JSON array of user group ids
    last_update      INTEGER NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX device_groups_by_name ON device_groups (tenant, name COLLATE NOCASE);

-- The device group's name as machines and alerts show it (rbacGroupName): what a user's lists
-- filter alerts on, and how an alert is found out of step with its machine.
ALTER TABLE alerts ADD COLUMN rbac_group_name TEXT;
ALTER TABLE machines ADD COLUMN rbac_group_name TEXT;
