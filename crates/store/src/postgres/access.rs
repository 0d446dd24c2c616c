//! Roles, user groups and device groups on PostgreSQL, and keeping every machine, and its
//! alerts, in its device group. The decisions are [`crate::grouping`]'s; this reads and writes.

use deadpool_postgres::GenericClient;
use openmde_access::{DeviceGroup, Role, RolePermission, UserGroup};
use openmde_model::Timestamp;
use serde_json::{Map, Value};
use tokio_postgres::types::ToSql;

use super::dialect::UPDATE_MACHINE;
use super::{PgResult, corrupt};
use crate::query::EntitySet;
use crate::rows::{self, SELECT_DEVICE_GROUP, SELECT_ROLE};
use crate::{DeviceGroupRecord, StoreError, TenantKey, grouping};

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(corrupt)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(corrupt)
}

/// Serialises writes that regroup a tenant's machines: device-group changes take the tenant's
/// row exclusively, machine writes shared, so that every machine is stamped with the groups
/// that are current when its transaction commits.
pub(super) async fn lock_tenant(client: &impl GenericClient, tenant: TenantKey, exclusive: bool) -> PgResult<()> {
    let sql = if exclusive {
        "SELECT 1 FROM tenants WHERE key = $1 FOR UPDATE"
    } else {
        "SELECT 1 FROM tenants WHERE key = $1 FOR SHARE"
    };
    client.query_opt(sql, &[&tenant.0]).await?;
    Ok(())
}

/// What a new tenant starts with ([`grouping::tenant_defaults`]).
pub(super) async fn set_up_tenant(client: &impl GenericClient, tenant: TenantKey, now: Timestamp) -> PgResult<()> {
    let defaults = grouping::tenant_defaults();
    write_device_group(client, tenant, &defaults.ungrouped, now).await?;
    create_user_group(client, tenant, &defaults.administrators, now).await?;
    put_role(client, tenant, &defaults.role).await
}

pub(super) async fn create_user_group(
    client: &impl GenericClient,
    tenant: TenantKey,
    group: &UserGroup,
    now: Timestamp,
) -> PgResult<()> {
    client
        .execute(
            "INSERT INTO user_groups (tenant, id, display_name, created) VALUES ($1, $2, $3, $4)",
            &[&tenant.0, &group.id, &group.display_name, &now.0],
        )
        .await?;
    for member in &group.members {
        set_group_member(client, tenant, &group.id, member, true).await?;
    }
    Ok(())
}

pub(super) async fn set_group_member(
    client: &impl GenericClient,
    tenant: TenantKey,
    group_id: &str,
    user_id: &str,
    member: bool,
) -> PgResult<bool> {
    let sql = if member {
        "INSERT INTO user_group_members (tenant, group_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM user_group_members WHERE tenant = $1 AND group_id = $2 AND user_id = $3"
    };
    Ok(client.execute(sql, &[&tenant.0, &group_id, &user_id]).await? == 1)
}

pub(super) async fn user_groups(client: &impl GenericClient, tenant: TenantKey) -> PgResult<Vec<UserGroup>> {
    let rows = client
        .query(
            "SELECT g.id, g.display_name, m.user_id FROM user_groups g
             LEFT JOIN user_group_members m ON m.tenant = g.tenant AND m.group_id = g.id
             WHERE g.tenant = $1 ORDER BY lower(g.display_name), g.id, m.user_id",
            &[&tenant.0],
        )
        .await?;
    let mut groups: Vec<UserGroup> = Vec::new();
    for row in rows {
        let id: String = row.try_get(0)?;
        if groups.last().is_none_or(|g| g.id != id) {
            groups.push(UserGroup {
                id,
                display_name: row.try_get(1)?,
                members: Vec::new(),
            });
        }
        if let (Some(group), Some(member)) = (groups.last_mut(), row.try_get::<_, Option<String>>(2)?) {
            group.members.push(member);
        }
    }
    Ok(groups)
}

/// Removes a group, and its id from every role and device group it was assigned to.
pub(super) async fn delete_user_group(
    client: &impl GenericClient,
    tenant: TenantKey,
    group_id: &str,
) -> PgResult<bool> {
    let deleted = client
        .execute(
            "DELETE FROM user_groups WHERE tenant = $1 AND id = $2",
            &[&tenant.0, &group_id],
        )
        .await?;
    if deleted == 0 {
        return Ok(false);
    }
    for table in ["roles", "device_groups"] {
        let rows = client
            .query(
                &format!("SELECT id::text, user_groups FROM {table} WHERE tenant = $1 FOR UPDATE"),
                &[&tenant.0],
            )
            .await?;
        for row in rows {
            let (id, user_groups): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            if let Some(remaining) = grouping::without_user_group(&user_groups, group_id).map_err(corrupt)? {
                client
                    .execute(
                        &format!("UPDATE {table} SET user_groups = $3 WHERE tenant = $1 AND id::text = $2"),
                        &[&tenant.0, &id, &remaining],
                    )
                    .await?;
            }
        }
    }
    Ok(true)
}

pub(super) async fn member_of(client: &impl GenericClient, tenant: TenantKey, user_id: &str) -> PgResult<Vec<String>> {
    let rows = client
        .query(
            "SELECT group_id FROM user_group_members WHERE tenant = $1 AND user_id = $2",
            &[&tenant.0, &user_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
}

pub(super) async fn roles(client: &impl GenericClient, tenant: TenantKey) -> PgResult<Vec<Role>> {
    let found = client
        .query(
            &format!("{SELECT_ROLE} WHERE tenant = $1 ORDER BY built_in DESC, lower(name)"),
            &[&tenant.0],
        )
        .await?;
    found.iter().map(rows::role).collect()
}

pub(super) async fn put_role(client: &impl GenericClient, tenant: TenantKey, role: &Role) -> PgResult<()> {
    let permissions: Vec<RolePermission> = role.permissions.iter().copied().collect();
    client
        .execute(
            "INSERT INTO roles (tenant, id, name, description, permissions, user_groups, built_in)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant, id) DO UPDATE SET name = excluded.name, description = excluded.description,
               permissions = excluded.permissions, user_groups = excluded.user_groups",
            &[
                &tenant.0,
                &role.id,
                &role.name,
                &role.description,
                &to_json(&permissions)?,
                &to_json(&role.user_groups)?,
                &role.built_in,
            ],
        )
        .await?;
    Ok(())
}

/// A tenant's device groups by rank, the Ungrouped group last, with their last update.
async fn device_groups_with_times(
    client: &impl GenericClient,
    tenant: TenantKey,
) -> PgResult<Vec<(DeviceGroup, Timestamp)>> {
    let found = client
        .query(
            &format!("{SELECT_DEVICE_GROUP} WHERE tenant = $1 ORDER BY id = 0, priority"),
            &[&tenant.0],
        )
        .await?;
    found.iter().map(rows::device_group).collect()
}

pub(super) async fn ranked_groups(client: &impl GenericClient, tenant: TenantKey) -> PgResult<Vec<DeviceGroup>> {
    Ok(device_groups_with_times(client, tenant)
        .await?
        .into_iter()
        .map(|(group, _)| group)
        .collect())
}

pub(super) async fn device_groups(client: &impl GenericClient, tenant: TenantKey) -> PgResult<Vec<DeviceGroupRecord>> {
    let counts = client
        .query(
            "SELECT coalesce(rbac_group_id, 0), count(*) FROM machines WHERE tenant = $1 GROUP BY 1",
            &[&tenant.0],
        )
        .await?;
    let counts: Vec<(i64, i64)> = counts
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<PgResult<_>>()?;
    Ok(device_groups_with_times(client, tenant)
        .await?
        .into_iter()
        .map(|(group, last_update)| {
            let device_count = counts.iter().find(|(id, _)| *id == group.id).map_or(0, |(_, n)| *n);
            DeviceGroupRecord {
                group,
                device_count: device_count.max(0) as u64,
                last_update,
            }
        })
        .collect())
}

async fn write_device_group(
    client: &impl GenericClient,
    tenant: TenantKey,
    group: &DeviceGroup,
    now: Timestamp,
) -> PgResult<()> {
    let automation_level = to_json(&group.automation_level)?;
    client
        .execute(
            "INSERT INTO device_groups (tenant, id, priority, name, description, automation_level, rules, user_groups, last_update)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (tenant, id) DO UPDATE SET priority = excluded.priority, name = excluded.name,
               description = excluded.description, automation_level = excluded.automation_level, rules = excluded.rules,
               user_groups = excluded.user_groups, last_update = excluded.last_update",
            &[
                &tenant.0,
                &group.id,
                &group.priority,
                &group.name,
                &group.description,
                &automation_level.trim_matches('"'),
                &to_json(&group.rules)?,
                &to_json(&group.user_groups)?,
                &now.0,
            ],
        )
        .await?;
    Ok(())
}

/// Saves `group` (new or changed) at its requested rank among the others, then regroups every
/// machine of the tenant. The caller holds the tenant's lock ([`lock_tenant`]).
pub(super) async fn save_device_group(
    client: &impl GenericClient,
    tenant: TenantKey,
    group: DeviceGroup,
) -> PgResult<DeviceGroup> {
    let mut ranked = grouping::reranked(ranked_groups(client, tenant).await?, &group);
    rank(client, tenant, &mut ranked, Some(group.id)).await?;
    reassign_machines(client, tenant).await?;
    Ok(ranked.into_iter().find(|g| g.id == group.id).unwrap_or(group))
}

async fn rank(
    client: &impl GenericClient,
    tenant: TenantKey,
    ranked: &mut [DeviceGroup],
    changed: Option<i64>,
) -> PgResult<()> {
    let now = Timestamp::now();
    for group in grouping::renumbered(ranked, changed) {
        write_device_group(client, tenant, group, now).await?;
    }
    Ok(())
}

pub(super) async fn next_device_group_id(client: &impl GenericClient, tenant: TenantKey) -> PgResult<i64> {
    let row = client
        .query_one(
            "SELECT coalesce(max(id), 0) + 1 FROM device_groups WHERE tenant = $1",
            &[&tenant.0],
        )
        .await?;
    Ok(row.try_get(0)?)
}

pub(super) async fn device_group_exists(client: &impl GenericClient, tenant: TenantKey, id: i64) -> PgResult<bool> {
    Ok(client
        .query_opt(
            "SELECT 1 FROM device_groups WHERE tenant = $1 AND id = $2",
            &[&tenant.0, &id],
        )
        .await?
        .is_some())
}

/// Removes a named group; the ones below move up and its machines are regrouped.
pub(super) async fn delete_device_group(client: &impl GenericClient, tenant: TenantKey, id: i64) -> PgResult<bool> {
    let deleted = id != openmde_access::UNGROUPED_ID
        && client
            .execute(
                "DELETE FROM device_groups WHERE tenant = $1 AND id = $2",
                &[&tenant.0, &id],
            )
            .await?
            == 1;
    if deleted {
        rank(client, tenant, &mut ranked_groups(client, tenant).await?, None).await?;
        reassign_machines(client, tenant).await?;
    }
    Ok(deleted)
}

/// Regroups every machine of the tenant, then their alerts.
async fn reassign_machines(client: &impl GenericClient, tenant: TenantKey) -> PgResult<()> {
    let ranked = ranked_groups(client, tenant).await?;
    let rows = client
        .query("SELECT id, doc FROM machines WHERE tenant = $1", &[&tenant.0])
        .await?;
    let update = client.prepare_cached(&UPDATE_MACHINE).await?;
    for row in rows {
        let (id, doc): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let mut machine: Map<String, Value> = from_json(&doc)?;
        if !grouping::stamp_machine(&ranked, &mut machine) {
            continue;
        }
        let doc = to_json(&machine)?;
        let fields = EntitySet::Machines.column_values(&machine);
        let key: [&(dyn ToSql + Sync); 3] = [&tenant.0, &id, &doc];
        let params: Vec<&(dyn ToSql + Sync)> = key
            .into_iter()
            .chain(fields.iter().map(|v| v as &(dyn ToSql + Sync)))
            .collect();
        client.execute(&update, &params).await?;
    }
    restamp_alerts(client, tenant, None).await
}

/// Gives alerts (of one machine, or all) the `rbacGroupName` of their machine where it differs;
/// an alert whose machine is not stored is in the Ungrouped group.
pub(super) async fn restamp_alerts(
    client: &impl GenericClient,
    tenant: TenantKey,
    machine_id: Option<&str>,
) -> PgResult<()> {
    const OUT_OF_STEP: &str = "SELECT a.id, a.doc, m.rbac_group_name FROM alerts a
         LEFT JOIN machines m ON m.tenant = a.tenant AND m.id = a.machine_id
         WHERE a.tenant = $1 AND a.rbac_group_name IS DISTINCT FROM m.rbac_group_name";
    let rows = match machine_id {
        None => client.query(OUT_OF_STEP, &[&tenant.0]).await?,
        Some(machine_id) => {
            client
                .query(
                    &format!("{OUT_OF_STEP} AND a.machine_id = $2"),
                    &[&tenant.0, &machine_id],
                )
                .await?
        }
    };
    let update = client
        .prepare_cached("UPDATE alerts SET doc = $3, rbac_group_name = $4 WHERE tenant = $1 AND id = $2")
        .await?;
    for row in rows {
        let (id, doc, name): (String, String, Option<String>) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let doc = grouping::with_group_name(&doc, name.as_deref()).map_err(corrupt)?;
        client.execute(&update, &[&tenant.0, &id, &doc, &name]).await?;
    }
    Ok(())
}
