//! The data directory and what a first start puts in it: a tenant, an application holding
//! every Machine and Alert permission, the demo fleet, and `credentials.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use openmde_identity::resource;
use openmde_model::{EntityKind, Record, Timestamp};
use openmde_store::postgres::{self, PgStore};
use openmde_store::sqlite::SqliteStore;
use openmde_store::{Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::demo::Fleet;
use crate::manage::{Manager, NewApp, NewUser};

pub const DEMO_MACHINES: u64 = 50;
pub const DEMO_ALERTS: u64 = 200;

#[derive(Debug, Clone)]
pub struct DataDir {
    pub root: PathBuf,
    /// The store's URL; `None`: the SQLite file in `root`.
    pub database_url: Option<String>,
    pub database_pool_size: usize,
}

impl DataDir {
    /// A data directory whose store is its own SQLite file.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir {
            root: root.into(),
            database_url: None,
            database_pool_size: openmde_store::postgres::DEFAULT_POOL_SIZE,
        }
    }

    /// The same directory (TLS material, credentials, admin key) over the store at `url`.
    pub fn with_database(self, url: Option<String>, pool_size: usize) -> Self {
        DataDir {
            database_url: url,
            database_pool_size: pool_size,
            ..self
        }
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

    /// The admin API's key, kept in `admin-key` (owner-only), created on first use.
    pub fn admin_key(&self) -> anyhow::Result<String> {
        let path = self.admin_key_path();
        if let Ok(key) = std::fs::read_to_string(&path) {
            let key = key.trim().to_string();
            anyhow::ensure!(!key.is_empty(), "{} is empty", path.display());
            return Ok(key);
        }
        std::fs::create_dir_all(&self.root)?;
        let key = openmde_identity::secret::generate_long();
        write_private(&path, &key)?;
        Ok(key)
    }

    pub fn admin_key_path(&self) -> PathBuf {
        self.root.join("admin-key")
    }

    /// Opens the store, creating the directory and database (or schema) as needed.
    pub async fn open_store(&self) -> anyhow::Result<Arc<dyn Store>> {
        std::fs::create_dir_all(&self.root).with_context(|| format!("cannot create {}", self.root.display()))?;
        open_store(self.database_url.as_deref(), &self.database(), self.database_pool_size).await
    }
}

/// Opens the store at `url` (PostgreSQL or `sqlite://path`), or at the SQLite file `default` if
/// there is none.
pub async fn open_store(url: Option<&str>, default: &Path, pool_size: usize) -> anyhow::Result<Arc<dyn Store>> {
    let sqlite = |path: &Path| -> anyhow::Result<Arc<dyn Store>> {
        let store = SqliteStore::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Arc::new(store))
    };
    match url {
        None => sqlite(default),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PgStore::open(url, pool_size)
                .await
                .with_context(|| format!("cannot open {}", postgres::redacted(url)))?;
            Ok(Arc::new(store))
        }
        Some(url) => match url.strip_prefix("sqlite://") {
            Some(path) => sqlite(Path::new(path)),
            None => anyhow::bail!("the database URL must start with postgres://, postgresql:// or sqlite://"),
        },
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

/// On an empty store: the demo tenant and application, and the fleet unless `demo` is off.
/// Returns the new credentials, also written to `credentials.json`.
/// The user created on first start.
pub const DEMO_USER: &str = "analyst@contoso.onmicrosoft.com";

pub async fn first_start(store: &dyn Store, dir: &DataDir, demo: bool) -> anyhow::Result<Option<Credentials>> {
    if !store.tenants().await?.is_empty() {
        return Ok(None);
    }
    let created = store
        .create_tenant(
            &uuid::Uuid::new_v4().to_string(),
            "Contoso (openmde demo)",
            "contoso.onmicrosoft.com",
        )
        .await;
    let tenant = match created {
        Ok(tenant) => tenant,
        // Another replica on the same store started first and is setting it up.
        Err(StoreError::Conflict(_)) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let manager = Manager::new(store, None);
    let app = NewApp {
        name: "openmde demo application".into(),
        roles: resource::machine_and_alert_permissions(),
    };
    let app = manager.create_app(&tenant, app).await?;
    // An administrator, as Entra's Security Administrators are in a new MDE tenant.
    let user = NewUser {
        upn: DEMO_USER.into(),
        display_name: "Demo Analyst".into(),
        password: None,
        groups: vec![openmde_store::ADMINISTRATORS_GROUP.into()],
    };
    let user = manager.create_user(&tenant, user).await?;
    let mut credentials = Credentials {
        tenant_id: app.tenant_id,
        client_id: app.client_id,
        client_secret: app.client_secret,
        tenant_domain: Some(tenant.domain.clone()),
        roles: app.roles,
        sample_alert_id: None,
        user_principal_name: Some(user.upn),
        user_password: Some(user.password),
    };
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
