//! The data directory and what a first start puts in it: a tenant, an application holding
//! every Machine and Alert permission, the demo fleet, and `credentials.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use openmde_identity::{resource, secret};
use openmde_model::{EntityKind, Record, Timestamp};
use openmde_store::sqlite::SqliteStore;
use openmde_store::{AppRegistration, Store, Tenant};
use serde::{Deserialize, Serialize};

use crate::demo::Fleet;

pub const DEMO_MACHINES: u64 = 50;
pub const DEMO_ALERTS: u64 = 200;

#[derive(Debug, Clone)]
pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }
    pub fn database(&self) -> PathBuf {
        self.root.join("openmde.db")
    }
    pub fn tls(&self) -> PathBuf {
        self.root.join("tls")
    }
    pub fn ca_certificate(&self) -> PathBuf {
        self.tls().join("ca.pem")
    }
    pub fn credentials(&self) -> PathBuf {
        self.root.join("credentials.json")
    }

    /// Opens the store, creating the directory and database as needed.
    pub fn open_store(&self) -> anyhow::Result<Arc<SqliteStore>> {
        std::fs::create_dir_all(&self.root).with_context(|| format!("cannot create {}", self.root.display()))?;
        let store = SqliteStore::open(&self.database())
            .with_context(|| format!("cannot open {}", self.database().display()))?;
        Ok(Arc::new(store))
    }
}

/// What `openmde apps create` prints and `credentials.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// An alert of the demo fleet whose machine can be fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_alert_id: Option<String>,
    /// The demo user, for the password and device code flows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_password: Option<String>,
}

impl Credentials {
    pub fn read(path: &Path) -> Option<Self> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    fn write(&self, path: &Path) -> anyhow::Result<()> {
        write_private(path, &serde_json::to_string_pretty(self)?)
    }
}

/// Writes a file only its owner can read (credentials, private keys).
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// The tenant named by `--tenant` (GUID or domain), or the only one there is.
pub async fn resolve_tenant(store: &dyn Store, named: Option<&str>) -> anyhow::Result<Tenant> {
    if let Some(name) = named {
        return store
            .tenant(name)
            .await?
            .with_context(|| format!("no tenant '{name}' in this data directory"));
    }
    let mut tenants = store.tenants().await?;
    match tenants.len() {
        0 => anyhow::bail!("this data directory has no tenant yet: run `openmde serve` once to create one"),
        1 => Ok(tenants.remove(0)),
        _ => anyhow::bail!("this data directory has several tenants: choose one with --tenant"),
    }
}

/// Registers an application with the given application permissions.
/// A user created by `openmde users create`, with the password to sign in with.
pub struct CreatedUser {
    pub tenant_id: String,
    pub object_id: String,
    pub upn: String,
    pub password: String,
}

/// Adds a user who signs in with `password` (a generated one if `None`).
pub async fn create_user(
    store: &dyn Store,
    tenant: &Tenant,
    upn: &str,
    display_name: &str,
    (password, groups): (Option<String>, &[String]),
) -> anyhow::Result<CreatedUser> {
    anyhow::ensure!(
        upn.split_once('@')
            .is_some_and(|(name, domain)| !name.is_empty() && domain.contains('.')),
        "'{upn}' is not a user principal name like alice@contoso.onmicrosoft.com"
    );
    let known = store.user_groups(tenant.key).await?;
    let group_ids = groups
        .iter()
        .map(|group| {
            known
                .iter()
                .find(|g| g.id == *group || g.display_name.eq_ignore_ascii_case(group))
                .map(|g| g.id.clone())
                .with_context(|| format!("no user group '{group}' in tenant {}", tenant.domain))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let password = password.unwrap_or_else(openmde_identity::secret::generate);
    let to_hash = password.clone();
    let password_hash = tokio::task::spawn_blocking(move || openmde_identity::password::hash(&to_hash)).await??;
    let user = openmde_store::UserRecord {
        tenant: tenant.key,
        object_id: uuid::Uuid::new_v4().to_string(),
        upn: upn.to_string(),
        display_name: display_name.to_string(),
        password_hash,
    };
    store
        .create_user(&user)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create {upn}: {e}"))?;
    for group_id in &group_ids {
        store.set_group_member(tenant.key, group_id, &user.object_id, true).await?;
    }
    Ok(CreatedUser {
        tenant_id: tenant.id.clone(),
        object_id: user.object_id,
        upn: user.upn,
        password,
    })
}

pub async fn create_app(
    store: &dyn Store,
    tenant: &Tenant,
    name: &str,
    roles: &[String],
) -> anyhow::Result<Credentials> {
    let roles = roles
        .iter()
        .map(|role| {
            resource::application_permission(role)
                .map(str::to_string)
                .with_context(|| {
                    format!(
                        "unknown permission '{role}'; known: {}",
                        resource::APPLICATION_PERMISSIONS.join(", ")
                    )
                })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let client_secret = secret::generate();
    let app = AppRegistration {
        client_id: uuid::Uuid::new_v4().to_string(),
        tenant: tenant.key,
        object_id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        secret_sha256: secret::sha256(&client_secret),
        roles: roles.clone(),
    };
    store.create_app(&app).await?;
    Ok(Credentials {
        tenant_id: tenant.id.clone(),
        client_id: app.client_id,
        client_secret,
        tenant_domain: Some(tenant.domain.clone()),
        roles,
        sample_alert_id: None,
        user_principal_name: None,
        user_password: None,
    })
}

/// On an empty store: the demo tenant and application, and the fleet unless `demo` is off.
/// Returns the new credentials, also written to `credentials.json`.
/// The user created on first start.
pub const DEMO_USER: &str = "analyst@contoso.onmicrosoft.com";

pub async fn first_start(store: &dyn Store, dir: &DataDir, demo: bool) -> anyhow::Result<Option<Credentials>> {
    if !store.tenants().await?.is_empty() {
        return Ok(None);
    }
    let tenant = store
        .create_tenant(
            &uuid::Uuid::new_v4().to_string(),
            "Contoso (openmde demo)",
            "contoso.onmicrosoft.com",
        )
        .await?;
    let mut credentials = create_app(
        store,
        &tenant,
        "openmde demo application",
        &resource::machine_and_alert_permissions(),
    )
    .await?;
    // An administrator, as Entra's Security Administrators are in a new MDE tenant.
    let administrators = [openmde_store::ADMINISTRATORS_GROUP.to_string()];
    let user = create_user(store, &tenant, DEMO_USER, "Demo Analyst", (None, &administrators)).await?;
    credentials.user_principal_name = Some(user.upn);
    credentials.user_password = Some(user.password);
    if demo {
        let fleet = Fleet {
            machines: DEMO_MACHINES,
            alerts: DEMO_ALERTS,
            tenant_id: tenant.id.clone(),
            now: Timestamp::now(),
        };
        let mut import = store.begin_import(tenant.key).await?;
        let mut records = Vec::new();
        for i in 0..fleet.machines {
            records.push(Record::new(EntityKind::Machine, into_object(fleet.machine(i)))?.into());
        }
        for i in 0..fleet.alerts {
            let alert = fleet.alert(i);
            if credentials.sample_alert_id.is_none() && Fleet::alert_resolves_to_machine(i, &alert) {
                credentials.sample_alert_id = Some(fleet.alert_id(i));
            }
            records.push(Record::new(EntityKind::Alert, into_object(alert))?.into());
        }
        import.upsert(records).await?;
        import.commit().await?;
    }
    credentials.write(&dir.credentials())?;
    Ok(Some(credentials))
}

pub fn into_object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}
