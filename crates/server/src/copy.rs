//! `openmde copy`: a whole store into an empty one (SQLite to PostgreSQL and back), through the
//! `Store` trait only, so any backend can be either side. Signing keys, tenants, applications
//! and their certificates, users with their password hashes, user groups, roles and device
//! groups are kept; machines and alerts go in one import per tenant, then both sides are
//! counted.

use std::collections::HashMap;

use anyhow::{Context, bail, ensure};
use openmde_access::DeviceGroup;
use openmde_model::{EntityKind, Record, Timestamp};
use openmde_store::query::{EntitySet, ListQuery, Scope};
use openmde_store::{ADMINISTRATORS_GROUP, Store, StoredRecord, Tenant};
use serde_json::Value;

/// Rows read per page while copying entities.
const PAGE: u64 = 5_000;

/// What was copied, per tenant: (domain, machines, alerts).
pub type Copied = Vec<(String, u64, u64)>;

pub async fn copy(from: &dyn Store, to: &dyn Store) -> anyhow::Result<Copied> {
    ensure!(
        to.tenants().await?.is_empty(),
        "the target store holds tenants already: copy into an empty one"
    );
    for key in from.signing_keys().await? {
        to.add_signing_key(&key).await?;
    }
    let mut copied = Vec::new();
    for tenant in from.tenants().await? {
        let target = to.create_tenant(&tenant.id, &tenant.name, &tenant.domain).await?;
        copy_access(from, to, &tenant, &target).await?;
        let counts = copy_entities(from, to, &tenant, &target)
            .await
            .with_context(|| format!("tenant {}", tenant.domain))?;
        let expected = (
            count(from, &tenant, EntitySet::Machines).await?,
            count(from, &tenant, EntitySet::Alerts).await?,
        );
        let found = (
            count(to, &target, EntitySet::Machines).await?,
            count(to, &target, EntitySet::Alerts).await?,
        );
        if found != expected || counts != expected {
            bail!(
                "tenant {}: the source holds {expected:?} machines and alerts, {counts:?} were copied and the target holds {found:?}",
                tenant.domain
            );
        }
        copied.push((tenant.domain.clone(), found.0, found.1));
    }
    Ok(copied)
}

/// Applications, users, user groups, roles and device groups of one tenant.
async fn copy_access(from: &dyn Store, to: &dyn Store, source: &Tenant, target: &Tenant) -> anyhow::Result<()> {
    for app in from.apps(source.key).await? {
        to.create_app(&openmde_store::AppRegistration {
            tenant: target.key,
            ..app.clone()
        })
        .await?;
        for certificate in from.app_certificates(&app.client_id).await? {
            to.add_app_certificate(&app.client_id, &certificate).await?;
        }
    }
    for user in from.users(source.key).await? {
        to.create_user(&openmde_store::UserRecord {
            tenant: target.key,
            ..user
        })
        .await?;
    }
    // The new tenant has its own administrators group and built-in role: the source's map to them.
    let target_groups = to.user_groups(target.key).await?;
    let mut group_ids: HashMap<String, String> = HashMap::new();
    for group in from.user_groups(source.key).await? {
        let existing = target_groups
            .iter()
            .find(|g| g.display_name == ADMINISTRATORS_GROUP && group.display_name == ADMINISTRATORS_GROUP);
        let id = match existing {
            Some(existing) => existing.id.clone(),
            None => {
                let empty = openmde_access::UserGroup {
                    members: Vec::new(),
                    ..group.clone()
                };
                to.create_user_group(target.key, &empty).await?;
                group.id.clone()
            }
        };
        for member in &group.members {
            to.set_group_member(target.key, &id, member, true).await?;
        }
        group_ids.insert(group.id, id);
    }
    let mapped = |ids: &[String]| -> Vec<String> { ids.iter().filter_map(|id| group_ids.get(id).cloned()).collect() };
    let built_in = to.roles(target.key).await?.into_iter().find(|r| r.built_in);
    for role in from.roles(source.key).await? {
        let id = match (&built_in, role.built_in) {
            (Some(built_in), true) => built_in.id.clone(),
            _ => role.id.clone(),
        };
        let user_groups = mapped(&role.user_groups);
        to.put_role(
            target.key,
            &openmde_access::Role {
                id,
                user_groups,
                ..role
            },
        )
        .await?;
    }
    // Named groups in rank order; each takes the next id, as it did when it was made.
    for record in from.device_groups(source.key).await? {
        let group = DeviceGroup {
            user_groups: mapped(&record.group.user_groups),
            ..record.group
        };
        if group.is_ungrouped() {
            to.update_device_group(target.key, &group).await?;
        } else {
            let made = to.create_device_group(target.key, &group).await?;
            if made.id != group.id {
                tracing::warn!(name = %group.name, from = group.id, to = made.id, "a device group has a new id");
            }
        }
    }
    Ok(())
}

/// Every machine, then every alert (with its evidence), in one import; returns the counts.
async fn copy_entities(
    from: &dyn Store,
    to: &dyn Store,
    source: &Tenant,
    target: &Tenant,
) -> anyhow::Result<(u64, u64)> {
    let mut import = to.begin_import(target.key).await?;
    for (set, kind) in [
        (EntitySet::Machines, EntityKind::Machine),
        (EntitySet::Alerts, EntityKind::Alert),
    ] {
        let mut query = ListQuery {
            limit: PAGE,
            with_evidence: set == EntitySet::Alerts,
            ..ListQuery::new(everything(set))
        };
        loop {
            let page = from.list(source.key, &query).await?;
            let mut records = Vec::with_capacity(page.rows.len());
            for row in page.rows {
                let mut document: serde_json::Map<String, Value> =
                    serde_json::from_str(&row.doc).with_context(|| format!("{} {}", set_name(set), row.id))?;
                if let Some(evidence) = row.evidence {
                    document.insert("evidence".into(), serde_json::from_str(&evidence)?);
                }
                let record = Record::new(kind, document).with_context(|| format!("{} {}", set_name(set), row.id))?;
                records.push(StoredRecord::from(record));
            }
            import.upsert(records).await?;
            match page.next {
                Some(cursor) => query.after = Some(cursor),
                None => break,
            }
        }
    }
    let counts = import.commit().await?;
    Ok((counts.machines, counts.alerts))
}

fn set_name(set: EntitySet) -> &'static str {
    match set {
        EntitySet::Machines => "machine",
        EntitySet::Alerts => "alert",
    }
}

/// Every row of a set, whatever its age.
fn everything(set: EntitySet) -> Scope {
    let since = Timestamp(i64::MIN);
    match set {
        EntitySet::Machines => Scope::Machines { seen_since: since },
        EntitySet::Alerts => Scope::Alerts {
            updated_since: since,
            machine_id: None,
        },
    }
}

/// Rows of a set in a tenant, whatever their age.
pub async fn count(store: &dyn Store, tenant: &Tenant, set: EntitySet) -> anyhow::Result<u64> {
    let query = ListQuery {
        count: true,
        ..ListQuery::new(everything(set))
    };
    Ok(store.list(tenant.key, &query).await?.count.unwrap_or(0))
}
