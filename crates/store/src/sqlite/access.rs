//! Roles, user groups and device groups, and keeping every machine, and its alerts, in its
//! device group: `rbacGroupId`/`rbacGroupName` in the documents and the columns lists filter on.

use openmde_access::{DeviceGroup, Role, RolePermission, UserGroup};
use openmde_model::Timestamp;
use rusqlite::{Connection, OptionalExtension, ToSql, params, params_from_iter};
use serde_json::{Map, Value};

use super::{dialect, unreadable_json};
use crate::query::EntitySet;
use crate::rows::{self, SELECT_DEVICE_GROUP, SELECT_ROLE};
use crate::{DeviceGroupRecord, TenantKey, grouping};

fn to_json<T: serde::Serialize>(value: &T) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(unreadable_json)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(unreadable_json)
}

/// What a new tenant starts with ([`grouping::tenant_defaults`]); returns the id of its
/// administrators group.
pub(super) fn set_up_tenant(conn: &Connection, tenant: TenantKey, now: Timestamp) -> rusqlite::Result<String> {
    let defaults = grouping::tenant_defaults();
    write_device_group(conn, tenant, &defaults.ungrouped, now)?;
    create_user_group(conn, tenant, &defaults.administrators, now)?;
    put_role(conn, tenant, &defaults.role)?;
    Ok(defaults.administrators.id)
}

pub(super) fn create_user_group(
    conn: &Connection,
    tenant: TenantKey,
    group: &UserGroup,
    now: Timestamp,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO user_groups (tenant, id, display_name, created) VALUES (?1, ?2, ?3, ?4)",
        params![tenant.0, group.id, group.display_name, now.0],
    )?;
    for member in &group.members {
        set_group_member(conn, tenant, &group.id, member, true)?;
    }
    Ok(())
}

pub(super) fn set_group_member(
    conn: &Connection,
    tenant: TenantKey,
    group_id: &str,
    user_id: &str,
    member: bool,
) -> rusqlite::Result<bool> {
    let sql = if member {
        "INSERT OR IGNORE INTO user_group_members (tenant, group_id, user_id) VALUES (?1, ?2, ?3)"
    } else {
        "DELETE FROM user_group_members WHERE tenant = ?1 AND group_id = ?2 AND user_id = ?3"
    };
    Ok(conn.execute(sql, params![tenant.0, group_id, user_id])? == 1)
}

pub(super) fn user_groups(conn: &Connection, tenant: TenantKey) -> rusqlite::Result<Vec<UserGroup>> {
    let mut groups: Vec<UserGroup> = conn
        .prepare_cached(
            "SELECT id, display_name FROM user_groups WHERE tenant = ?1 ORDER BY display_name COLLATE NOCASE",
        )?
        .query_map([tenant.0], |row| {
            Ok(UserGroup {
                id: row.get(0)?,
                display_name: row.get(1)?,
                members: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut members = conn.prepare_cached(
        "SELECT user_id FROM user_group_members WHERE tenant = ?1 AND group_id = ?2 ORDER BY user_id",
    )?;
    for group in &mut groups {
        group.members = members
            .query_map(params![tenant.0, group.id], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(groups)
}

/// Removes a group, and its id from every role and device group it was assigned to.
pub(super) fn delete_user_group(conn: &Connection, tenant: TenantKey, group_id: &str) -> rusqlite::Result<bool> {
    if conn.execute(
        "DELETE FROM user_groups WHERE tenant = ?1 AND id = ?2",
        params![tenant.0, group_id],
    )? == 0
    {
        return Ok(false);
    }
    for table in ["roles", "device_groups"] {
        conn.execute(
            &format!(
                "UPDATE {table} SET user_groups = (SELECT json_group_array(value) FROM json_each(user_groups) WHERE value <> ?2)
                 WHERE tenant = ?1 AND EXISTS (SELECT 1 FROM json_each(user_groups) WHERE value = ?2)"
            ),
            params![tenant.0, group_id],
        )?;
    }
    Ok(true)
}

pub(super) fn member_of(conn: &Connection, tenant: TenantKey, user_id: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached("SELECT group_id FROM user_group_members WHERE tenant = ?1 AND user_id = ?2")?
        .query_map(params![tenant.0, user_id], |row| row.get(0))?
        .collect()
}

pub(super) fn roles(conn: &Connection, tenant: TenantKey) -> rusqlite::Result<Vec<Role>> {
    conn.prepare_cached(&format!(
        "{SELECT_ROLE} WHERE tenant = ?1 ORDER BY built_in DESC, name COLLATE NOCASE"
    ))?
    .query_map([tenant.0], |row| rows::role(row))?
    .collect()
}

pub(super) fn put_role(conn: &Connection, tenant: TenantKey, role: &Role) -> rusqlite::Result<()> {
    let permissions: Vec<RolePermission> = role.permissions.iter().copied().collect();
    conn.execute(
        "INSERT INTO roles (tenant, id, name, description, permissions, user_groups, built_in)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (tenant, id) DO UPDATE SET name = excluded.name, description = excluded.description,
           permissions = excluded.permissions, user_groups = excluded.user_groups",
        params![
            tenant.0,
            role.id,
            role.name,
            role.description,
            to_json(&permissions)?,
            to_json(&role.user_groups)?,
            role.built_in
        ],
    )?;
    Ok(())
}

/// A tenant's device groups by rank, the Ungrouped group last.
pub(super) fn ranked_groups(conn: &Connection, tenant: TenantKey) -> rusqlite::Result<Vec<DeviceGroup>> {
    Ok(device_groups_with_times(conn, tenant)?
        .into_iter()
        .map(|(group, _)| group)
        .collect())
}

fn device_groups_with_times(conn: &Connection, tenant: TenantKey) -> rusqlite::Result<Vec<(DeviceGroup, Timestamp)>> {
    conn.prepare_cached(&format!(
        "{SELECT_DEVICE_GROUP} WHERE tenant = ?1 ORDER BY id = 0, priority"
    ))?
    .query_map([tenant.0], |row| rows::device_group(row))?
    .collect()
}

pub(super) fn device_groups(conn: &Connection, tenant: TenantKey) -> rusqlite::Result<Vec<DeviceGroupRecord>> {
    let mut count =
        conn.prepare_cached("SELECT count(*) FROM machines WHERE tenant = ?1 AND coalesce(rbac_group_id, 0) = ?2")?;
    device_groups_with_times(conn, tenant)?
        .into_iter()
        .map(|(group, last_update)| {
            let device_count: i64 = count.query_row(params![tenant.0, group.id], |row| row.get(0))?;
            Ok(DeviceGroupRecord {
                group,
                device_count: device_count as u64,
                last_update,
            })
        })
        .collect()
}

fn write_device_group(
    conn: &Connection,
    tenant: TenantKey,
    group: &DeviceGroup,
    now: Timestamp,
) -> rusqlite::Result<()> {
    let automation_level = to_json(&group.automation_level)?;
    conn.execute(
        "INSERT INTO device_groups (tenant, id, priority, name, description, automation_level, rules, user_groups, last_update)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (tenant, id) DO UPDATE SET priority = excluded.priority, name = excluded.name,
           description = excluded.description, automation_level = excluded.automation_level, rules = excluded.rules,
           user_groups = excluded.user_groups, last_update = excluded.last_update",
        params![
            tenant.0,
            group.id,
            group.priority,
            group.name,
            group.description,
            automation_level.trim_matches('"'),
            to_json(&group.rules)?,
            to_json(&group.user_groups)?,
            now.0
        ],
    )?;
    Ok(())
}

/// Saves `group` (new or changed) at its requested rank among the others, then ranks them
/// 1..n with the Ungrouped group last and regroups every machine of the tenant.
pub(super) fn save_device_group(
    conn: &Connection,
    tenant: TenantKey,
    group: DeviceGroup,
) -> rusqlite::Result<DeviceGroup> {
    let mut ranked = grouping::reranked(ranked_groups(conn, tenant)?, &group);
    rank(conn, tenant, &mut ranked, Some(group.id))?;
    reassign_machines(conn, tenant)?;
    Ok(ranked.into_iter().find(|g| g.id == group.id).unwrap_or(group))
}

/// Numbers `ranked` 1..n and writes the groups whose rank changed, and `changed`.
fn rank(
    conn: &Connection,
    tenant: TenantKey,
    ranked: &mut [DeviceGroup],
    changed: Option<i64>,
) -> rusqlite::Result<()> {
    let now = Timestamp::now();
    for group in grouping::renumbered(ranked, changed) {
        write_device_group(conn, tenant, group, now)?;
    }
    Ok(())
}

pub(super) fn next_device_group_id(conn: &Connection, tenant: TenantKey) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce(max(id), 0) + 1 FROM device_groups WHERE tenant = ?1",
        [tenant.0],
        |row| row.get(0),
    )
}

pub(super) fn device_group_exists(conn: &Connection, tenant: TenantKey, id: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM device_groups WHERE tenant = ?1 AND id = ?2",
            params![tenant.0, id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Removes a named group; the ones below move up and its machines are regrouped.
pub(super) fn delete_device_group(conn: &Connection, tenant: TenantKey, id: i64) -> rusqlite::Result<bool> {
    let deleted = id != openmde_access::UNGROUPED_ID
        && conn.execute(
            "DELETE FROM device_groups WHERE tenant = ?1 AND id = ?2",
            params![tenant.0, id],
        )? == 1;
    if deleted {
        rank(conn, tenant, &mut ranked_groups(conn, tenant)?, None)?;
        reassign_machines(conn, tenant)?;
    }
    Ok(deleted)
}

/// Regroups every machine of the tenant, then their alerts.
pub(super) fn reassign_machines(conn: &Connection, tenant: TenantKey) -> rusqlite::Result<()> {
    let ranked = ranked_groups(conn, tenant)?;
    let rows: Vec<(String, String)> = conn
        .prepare_cached("SELECT id, doc FROM machines WHERE tenant = ?1")?
        .query_map([tenant.0], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = conn.prepare_cached(&dialect::UPDATE_MACHINE)?;
    for (id, doc) in rows {
        let mut machine: Map<String, Value> = from_json(&doc)?;
        if !grouping::stamp_machine(&ranked, &mut machine) {
            continue;
        }
        let doc = to_json(&machine)?;
        let fields = EntitySet::Machines.column_values(&machine);
        let key: [&dyn ToSql; 3] = [&tenant.0, &id, &doc];
        update.execute(params_from_iter(
            key.into_iter().chain(fields.iter().map(|v| v as &dyn ToSql)),
        ))?;
    }
    restamp_alerts(conn, tenant, None)
}

/// Gives alerts (of one machine, or all) the `rbacGroupName` of their machine where it differs;
/// an alert whose machine is not stored is in the Ungrouped group.
pub(super) fn restamp_alerts(conn: &Connection, tenant: TenantKey, machine_id: Option<&str>) -> rusqlite::Result<()> {
    const OUT_OF_STEP: &str = "SELECT a.id, a.doc, m.rbac_group_name FROM alerts a
         LEFT JOIN machines m ON m.tenant = a.tenant AND m.id = a.machine_id
         WHERE a.tenant = ?1 AND a.rbac_group_name IS NOT m.rbac_group_name";
    let rows: Vec<(String, String, Option<String>)> = match machine_id {
        None => conn
            .prepare_cached(OUT_OF_STEP)?
            .query_map([tenant.0], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?,
        Some(machine_id) => conn
            .prepare_cached(&format!("{OUT_OF_STEP} AND a.machine_id = ?2"))?
            .query_map(params![tenant.0, machine_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?,
    };
    let mut update =
        conn.prepare_cached("UPDATE alerts SET doc = ?3, rbac_group_name = ?4 WHERE tenant = ?1 AND id = ?2")?;
    for (id, doc, name) in rows {
        let doc = grouping::with_group_name(&doc, name.as_deref()).map_err(unreadable_json)?;
        update.execute(params![tenant.0, id, doc, name])?;
    }
    Ok(())
}
