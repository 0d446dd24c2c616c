//! The embedded default: one SQLite file in WAL mode.
//!
//! Point reads run inline on the calling task over a small pool of connections: they take
//! microseconds, less than a hop to a blocking thread would. Writes go to a blocking thread.
//!
//! Each pooled reader keeps its read transaction (its snapshot) open between reads, because
//! starting one takes shared-memory locks that cost more than a point lookup and serialise
//! concurrent readers. A snapshot is renewed after any write through this store, so a process
//! always reads its own writes, and once it is older than [`SNAPSHOT_MAX_AGE`], which bounds how
//! long a write by another process (`openmde import`) stays unseen by entity reads. Lookups of
//! tenants, applications and keys, which are rare, always take a fresh snapshot, so an
//! application registered by `openmde apps create` can get a token at once.
//!
//! Bound values in hot queries are written `+?N`. SQLite marks a statement for re-planning
//! whenever a parameter compared with `=` is rebound (its row estimate depends on whether the
//! value is 0 or 1), and re-planning costs more than the lookup itself; a unary plus makes the
//! value an expression the planner does not inspect, and the index is still used.

mod access;
mod dialect;
mod import;
mod list;
mod migrations;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openmde_model::Timestamp;
use openmde_model::update::{AlertReference, MachineUpdate, SignedAlertUpdate};
use rusqlite::{Connection, OpenFlags, OptionalExtension, ToSql, params, params_from_iter};

use crate::query::{EntitySet, ListQuery, Page};
use crate::rows::{self, Fields, SELECT_APP, SELECT_DEVICE_CODE, SELECT_SIGNING_KEYS, SELECT_TENANT, SELECT_USER};

use crate::{
    AlertByReference, AlertDocument, AlertMachine, AppRegistration, DeviceCode, DeviceGroupRecord, Import, Result,
    SigningKeyRecord, Store, StoreError, Tenant, TenantKey, Updated, UserRecord,
};
use openmde_access::{DeviceGroup, Policy, Role, UserGroup};

pub struct SqliteStore {
    inner: Arc<Inner>,
}

/// How long a reader may keep one snapshot.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(250);

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Reader>>,
    next_reader: AtomicUsize,
    /// Counts writes through this store; a snapshot taken before the latest one is stale.
    generation: AtomicU64,
}

struct Reader {
    conn: Connection,
    /// When the open read transaction began, and the write generation it saw.
    snapshot: Option<(Instant, u64)>,
}

impl Reader {
    /// Makes sure a read transaction younger than the latest local write and than
    /// `SNAPSHOT_MAX_AGE` is open.
    fn refresh(&mut self, generation: u64, max_age: Duration) -> rusqlite::Result<()> {
        if let Some((started, seen)) = self.snapshot {
            if seen == generation && started.elapsed() < max_age {
                return Ok(());
            }
            self.snapshot = None;
            self.conn.execute_batch("COMMIT")?;
        }
        self.conn.execute_batch("BEGIN")?;
        self.snapshot = Some((Instant::now(), generation));
        Ok(())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::{CannotOpen, DatabaseBusy, DatabaseLocked};
        match &error {
            rusqlite::Error::SqliteFailure(e, _) if matches!(e.code, DatabaseBusy | DatabaseLocked | CannotOpen) => {
                StoreError::Unavailable(error.to_string())
            }
            rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
                StoreError::Conflict(error.to_string())
            }
            rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => {
                StoreError::Corrupt(error.to_string())
            }
            _ => StoreError::Backend(error.to_string()),
        }
    }
}

/// Turns off SQLite's global memory statistics before the first connection opens: keeping them
/// takes a process-wide mutex on every allocation, which serialises concurrent readers.
fn configure_sqlite_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config may only run before SQLite is initialised or after it is shut
        // down; the Once runs it before this process opens any connection. If SQLite was
        // initialised already (another library opened a database), it returns SQLITE_MISUSE and
        // changes nothing, which is harmless.
        unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
        }
    });
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    configure_sqlite_once();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        // page_size only takes effect on a new database: alert rows (~3 KB) fill 16 KB pages
        // well, where 4 KB pages would hold one each and waste a third of the file.
        "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -65536; PRAGMA mmap_size = 2147418112;",
    )?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let mut writer = open_connection(path)?;
        migrations::run(&mut writer)?;
        // One reader per core (tokio runs a worker per core), and a spare.
        let reader_count = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
        let readers = (0..reader_count)
            .map(|_| open_connection(path).map(|conn| Mutex::new(Reader { conn, snapshot: None })))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let inner = Arc::new(Inner {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
        });
        release_idle_snapshots(Arc::downgrade(&inner));
        Ok(SqliteStore { inner })
    }

    /// Runs a read on a free pooled connection, in its current snapshot.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        self.read_within(SNAPSHOT_MAX_AGE, f)
    }

    /// Runs a read in a snapshot taken now.
    fn read_fresh<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        self.read_within(Duration::ZERO, f)
    }

    fn read_within<T>(&self, max_age: Duration, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let readers = &self.inner.readers;
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        let free = (0..readers.len()).find_map(|i| readers[(start + i) % readers.len()].try_lock().ok());
        let mut reader = match free {
            Some(reader) => reader,
            None => lock(&readers[start % readers.len()]),
        };
        let generation = self.inner.generation.load(Ordering::Acquire);
        let outcome = reader.refresh(generation, max_age).and_then(|()| f(&reader.conn));
        if outcome.is_err() {
            // Start over with a fresh snapshot next time; the failure is the caller's to report.
            reader.snapshot = None;
            let _ = reader.conn.execute_batch("ROLLBACK");
        }
        Ok(outcome?)
    }

    /// Marks every reader's snapshot stale: a write has committed.
    fn written(&self) {
        self.inner.generation.fetch_add(1, Ordering::Release);
    }

    /// Runs a write on the writer connection, on a blocking thread.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        let outcome = tokio::task::spawn_blocking(move || f(&mut lock(&inner.writer)).map_err(StoreError::from))
            .await
            .map_err(|e| StoreError::Backend(format!("write task failed: {e}")))?;
        self.written();
        outcome
    }
}

/// Ends snapshots that reads have left open past their age, so that an idle server does not
/// hold back checkpoints (and the WAL does not grow) while another process writes. The thread
/// ends with the store.
fn release_idle_snapshots(inner: std::sync::Weak<Inner>) {
    let spawned = std::thread::Builder::new()
        .name("sqlite-snapshots".into())
        .spawn(move || {
            while let Some(inner) = inner.upgrade() {
                for reader in &inner.readers {
                    let Ok(mut reader) = reader.try_lock() else {
                        continue;
                    };
                    if reader
                        .snapshot
                        .is_some_and(|(started, _)| started.elapsed() >= SNAPSHOT_MAX_AGE)
                    {
                        reader.snapshot = None;
                        let _ = reader.conn.execute_batch("COMMIT");
                    }
                }
                drop(inner);
                std::thread::sleep(SNAPSHOT_MAX_AGE);
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the snapshot janitor; idle readers may delay checkpoints");
    }
}

/// An alert's document and evidence, if last updated at or after `?3`.
const SELECT_RETAINED_ALERT: &str =
    "SELECT doc, evidence FROM alerts WHERE tenant = +?1 AND id = +?2 AND last_update >= +?3";

/// A stored document that is not JSON, as a SQLite error (it surfaces as `StoreError::Backend`).
fn unreadable_json(error: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(error))
}

/// A poisoned lock only means another thread panicked mid-query; the connection is still sound.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Fields for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn text(&self, index: usize) -> rusqlite::Result<String> {
        self.get(index)
    }

    fn optional_text(&self, index: usize) -> rusqlite::Result<Option<String>> {
        self.get(index)
    }

    fn integer(&self, index: usize) -> rusqlite::Result<i64> {
        self.get(index)
    }

    fn bytes(&self, index: usize) -> rusqlite::Result<Vec<u8>> {
        self.get(index)
    }

    fn flag(&self, index: usize) -> rusqlite::Result<bool> {
        self.get(index)
    }

    fn unreadable(what: String) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn tenants(&self) -> Result<Vec<Tenant>> {
        self.read_fresh(|conn| {
            let mut stmt = conn.prepare_cached(&format!("{SELECT_TENANT} ORDER BY key"))?;
            stmt.query_map([], |row| rows::tenant(row))?.collect()
        })
    }

    async fn tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>> {
        self.read_fresh(|conn| {
            conn.prepare_cached(&format!("{SELECT_TENANT} WHERE id = lower(?1) OR domain = ?1"))?
                .query_row([id_or_domain], |row| rows::tenant(row))
                .optional()
        })
    }

    async fn create_tenant(&self, id: &str, name: &str, domain: &str) -> Result<Tenant> {
        let (id, name, domain) = (id.to_ascii_lowercase(), name.to_string(), domain.to_string());
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let now = Timestamp::now();
            tx.execute(
                "INSERT INTO tenants (id, name, domain, created) VALUES (?1, ?2, ?3, ?4)",
                params![id, name, domain, now.0],
            )?;
            let key = TenantKey(tx.last_insert_rowid());
            access::set_up_tenant(&tx, key, now)?;
            tx.commit()?;
            Ok(Tenant { key, id, name, domain })
        })
        .await
    }

    async fn app(&self, client_id: &str) -> Result<Option<AppRegistration>> {
        self.read_fresh(|conn| {
            conn.prepare_cached(&format!("{SELECT_APP} WHERE client_id = lower(?1)"))?
                .query_row([client_id], |row| rows::app(row))
                .optional()
        })
    }

    async fn apps(&self, tenant: TenantKey) -> Result<Vec<AppRegistration>> {
        self.read_fresh(|conn| {
            conn.prepare_cached(&format!("{SELECT_APP} WHERE tenant = ?1 ORDER BY created, client_id"))?
                .query_map([tenant.0], |row| rows::app(row))?
                .collect()
        })
    }

    async fn delete_app(&self, client_id: &str) -> Result<bool> {
        let client_id = client_id.to_ascii_lowercase();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.execute("DELETE FROM app_certificates WHERE client_id = ?1", [&client_id])?;
            let deleted = tx.execute("DELETE FROM apps WHERE client_id = ?1", [&client_id])? == 1;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn set_app_secret(&self, client_id: &str, secret_sha256: [u8; 32]) -> Result<bool> {
        let client_id = client_id.to_ascii_lowercase();
        self.write(move |conn| {
            conn.execute(
                "UPDATE apps SET secret_sha256 = ?2 WHERE client_id = ?1",
                params![client_id, &secret_sha256[..]],
            )
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn create_app(&self, app: &AppRegistration) -> Result<()> {
        let app = app.clone();
        let roles = serde_json::to_string(&app.roles).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO apps (client_id, tenant, object_id, name, secret_sha256, roles, created)
                 VALUES (lower(?1), ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    app.client_id,
                    app.tenant.0,
                    app.object_id,
                    app.name,
                    &app.secret_sha256[..],
                    roles,
                    Timestamp::now().0
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn add_app_certificate(&self, client_id: &str, certificate_der: &[u8]) -> Result<()> {
        let (client_id, der) = (client_id.to_ascii_lowercase(), certificate_der.to_vec());
        self.write(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO app_certificates (client_id, certificate_der, created) VALUES (?1, ?2, ?3)",
                params![client_id, der, Timestamp::now().0],
            )
            .map(drop)
        })
        .await
    }

    async fn app_certificates(&self, client_id: &str) -> Result<Vec<Vec<u8>>> {
        self.read_fresh(|conn| {
            conn.prepare_cached(
                "SELECT certificate_der FROM app_certificates WHERE client_id = lower(?1) ORDER BY created",
            )?
            .query_map([client_id], |row| row.get(0))?
            .collect()
        })
    }

    async fn create_user(&self, user: &UserRecord) -> Result<()> {
        let user = user.clone();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO users (tenant, object_id, upn, display_name, password_hash, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    user.tenant.0,
                    user.object_id,
                    user.upn,
                    user.display_name,
                    user.password_hash,
                    Timestamp::now().0
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn users(&self, tenant: TenantKey) -> Result<Vec<UserRecord>> {
        self.read_fresh(|conn| {
            conn.prepare_cached(&format!("{SELECT_USER} WHERE tenant = ?1 ORDER BY upn"))?
                .query_map([tenant.0], |row| rows::user(row))?
                .collect()
        })
    }

    async fn delete_user(&self, tenant: TenantKey, object_id: &str) -> Result<bool> {
        let object_id = object_id.to_string();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM device_codes WHERE tenant = ?1 AND user_id = ?2",
                params![tenant.0, object_id],
            )?;
            let deleted = tx.execute(
                "DELETE FROM users WHERE tenant = ?1 AND object_id = ?2",
                params![tenant.0, object_id],
            )? == 1;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn user_groups(&self, tenant: TenantKey) -> Result<Vec<UserGroup>> {
        self.read_fresh(|conn| access::user_groups(conn, tenant))
    }

    async fn create_user_group(&self, tenant: TenantKey, group: &UserGroup) -> Result<()> {
        let group = group.clone();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            access::create_user_group(&tx, tenant, &group, Timestamp::now())?;
            tx.commit()
        })
        .await
    }

    async fn delete_user_group(&self, tenant: TenantKey, group_id: &str) -> Result<bool> {
        let group_id = group_id.to_string();
        self.write(move |conn| {
            let tx = conn.transaction()?;
            let deleted = access::delete_user_group(&tx, tenant, &group_id)?;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn set_group_member(&self, tenant: TenantKey, group_id: &str, user_id: &str, member: bool) -> Result<bool> {
        let (group_id, user_id) = (group_id.to_string(), user_id.to_string());
        self.write(move |conn| access::set_group_member(conn, tenant, &group_id, &user_id, member))
            .await
    }

    async fn member_of(&self, tenant: TenantKey, user_id: &str) -> Result<Vec<String>> {
        self.read_fresh(|conn| access::member_of(conn, tenant, user_id))
    }

    async fn roles(&self, tenant: TenantKey) -> Result<Vec<Role>> {
        self.read_fresh(|conn| access::roles(conn, tenant))
    }

    async fn put_role(&self, tenant: TenantKey, role: &Role) -> Result<()> {
        let role = role.clone();
        self.write(move |conn| access::put_role(conn, tenant, &role)).await
    }

    async fn delete_role(&self, tenant: TenantKey, role_id: &str) -> Result<bool> {
        let role_id = role_id.to_string();
        self.write(move |conn| {
            conn.execute(
                "DELETE FROM roles WHERE tenant = ?1 AND id = ?2 AND NOT built_in",
                params![tenant.0, role_id],
            )
            .map(|n| n == 1)
        })
        .await
    }

    async fn device_groups(&self, tenant: TenantKey) -> Result<Vec<DeviceGroupRecord>> {
        self.read_fresh(|conn| access::device_groups(conn, tenant))
    }

    async fn create_device_group(&self, tenant: TenantKey, group: &DeviceGroup) -> Result<DeviceGroup> {
        let group = group.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let id = access::next_device_group_id(&tx, tenant)?;
            let saved = access::save_device_group(&tx, tenant, DeviceGroup { id, ..group })?;
            tx.commit()?;
            Ok(saved)
        })
        .await
    }

    async fn update_device_group(&self, tenant: TenantKey, group: &DeviceGroup) -> Result<Option<DeviceGroup>> {
        let group = group.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if !access::device_group_exists(&tx, tenant, group.id)? {
                return Ok(None);
            }
            let saved = access::save_device_group(&tx, tenant, group)?;
            tx.commit()?;
            Ok(Some(saved))
        })
        .await
    }

    async fn delete_device_group(&self, tenant: TenantKey, group_id: i64) -> Result<bool> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let deleted = access::delete_device_group(&tx, tenant, group_id)?;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn policy(&self, tenant: TenantKey) -> Result<Policy> {
        self.read_fresh(|conn| {
            Ok(Policy {
                roles: access::roles(conn, tenant)?,
                device_groups: access::ranked_groups(conn, tenant)?,
            })
        })
    }

    async fn user_by_upn(&self, upn: &str) -> Result<Option<UserRecord>> {
        self.read_fresh(|conn| {
            conn.prepare_cached(&format!("{SELECT_USER} WHERE upn = ?1"))?
                .query_row([upn], |row| rows::user(row))
                .optional()
        })
    }

    async fn user(&self, tenant: TenantKey, object_id: &str) -> Result<Option<UserRecord>> {
        self.read_fresh(|conn| {
            conn.prepare_cached(&format!("{SELECT_USER} WHERE tenant = ?1 AND object_id = ?2"))?
                .query_row(params![tenant.0, object_id], |row| rows::user(row))
                .optional()
        })
    }

    async fn create_device_code(&self, code: &DeviceCode) -> Result<()> {
        let code = code.clone();
        self.write(move |conn| {
            // Expired authorizations go as new ones come.
            conn.execute("DELETE FROM device_codes WHERE expires < ?1", [Timestamp::now().0])?;
            conn.execute(
                "INSERT INTO device_codes (device_code, user_code, tenant, client_id, scope, expires, user_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
                params![
                    code.device_code,
                    code.user_code,
                    code.tenant.0,
                    code.client_id,
                    code.scope,
                    code.expires.0
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn device_code(&self, device_code: &str) -> Result<Option<DeviceCode>> {
        self.read_fresh(|conn| {
            conn.prepare_cached(&format!("{SELECT_DEVICE_CODE} WHERE device_code = ?1"))?
                .query_row([device_code], |row| rows::device_code(row))
                .optional()
        })
    }

    async fn approve_device_code(
        &self,
        tenant: TenantKey,
        user_code: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let (user_code, user_id) = (user_code.to_string(), user_id.to_string());
        self.write(move |conn| {
            conn.execute(
                "UPDATE device_codes SET user_id = ?3
                 WHERE tenant = ?1 AND user_code = ?2 AND user_id IS NULL AND expires >= ?4",
                params![tenant.0, user_code, user_id, now.0],
            )
            .map(|changed| changed == 1)
        })
        .await
    }

    async fn delete_device_code(&self, device_code: &str) -> Result<bool> {
        let device_code = device_code.to_string();
        self.write(move |conn| {
            conn.execute("DELETE FROM device_codes WHERE device_code = ?1", [device_code])
                .map(|changed| changed == 1)
        })
        .await
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.read_fresh(|conn| {
            let mut stmt = conn.prepare_cached(SELECT_SIGNING_KEYS)?;
            stmt.query_map([], |row| rows::signing_key(row))?.collect()
        })
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
        let key = key.clone();
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO signing_keys (kid, private_key_pem, certificate_der, created) VALUES (?1, ?2, ?3, ?4)",
                params![key.kid, key.private_key_pem, key.certificate_der, key.created.0],
            )
            .map(drop)
        })
        .await
    }

    async fn alert_machine(&self, tenant: TenantKey, alert_id: &str, updated_since: Timestamp) -> Result<AlertMachine> {
        let row: Option<(Option<String>, Option<String>)> = self.read(|conn| {
            conn.prepare_cached(
                "SELECT a.machine_id, m.doc FROM alerts a INDEXED BY alerts_machine
                 LEFT JOIN machines m ON m.tenant = a.tenant AND m.id = a.machine_id
                 WHERE a.tenant = +?1 AND a.id = +?2 AND a.last_update >= +?3",
            )?
            .query_row(params![tenant.0, alert_id, updated_since.0], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
        })?;
        Ok(AlertMachine::from_lookup(row))
    }

    async fn alert(
        &self,
        tenant: TenantKey,
        alert_id: &str,
        updated_since: Timestamp,
    ) -> Result<Option<AlertDocument>> {
        self.read(|conn| {
            conn.prepare_cached(SELECT_RETAINED_ALERT)?
                .query_row(params![tenant.0, alert_id, updated_since.0], |row| {
                    Ok(AlertDocument {
                        doc: row.get(0)?,
                        evidence: row.get(1)?,
                    })
                })
                .optional()
        })
    }

    async fn update_alerts(
        &self,
        tenant: TenantKey,
        alert_ids: Vec<String>,
        updated_since: Timestamp,
        change: SignedAlertUpdate,
    ) -> Result<Updated<AlertDocument>> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut updated = Vec::with_capacity(alert_ids.len());
            for alert_id in alert_ids {
                let found: Option<(String, String)> = tx
                    .prepare_cached(SELECT_RETAINED_ALERT)?
                    .query_row(params![tenant.0, alert_id, updated_since.0], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })
                    .optional()?;
                // Dropping the transaction rolls back what this call changed so far.
                let Some((doc, evidence)) = found else {
                    return Ok(Updated::NotFound(alert_id));
                };
                let mut alert: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&doc).map_err(unreadable_json)?;
                change.apply(&mut alert);
                let doc = serde_json::to_string(&alert).map_err(unreadable_json)?;
                let fields = EntitySet::Alerts.column_values(&alert);
                let key: [&dyn ToSql; 4] = [&tenant.0, &alert_id, &doc, &change.at.0];
                tx.prepare_cached(&dialect::UPDATE_ALERT)?.execute(params_from_iter(
                    key.into_iter().chain(fields.iter().map(|v| v as &dyn ToSql)),
                ))?;
                updated.push(AlertDocument { doc, evidence });
            }
            tx.commit()?;
            Ok(Updated::All(updated))
        })
        .await
    }

    async fn create_alert_by_reference(
        &self,
        tenant: TenantKey,
        alert_id: String,
        reference: AlertReference,
        now: Timestamp,
    ) -> Result<AlertByReference> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let machine: Option<String> = tx
                .prepare_cached("SELECT doc FROM machines WHERE tenant = +?1 AND id = +?2")?
                .query_row(params![tenant.0, reference.machine_id], |row| row.get(0))
                .optional()?;
            let Some(machine) = machine else {
                return Ok(AlertByReference::MachineNotFound);
            };
            let open: Option<(String, String)> = tx
                .prepare_cached(
                    "SELECT doc, evidence FROM alerts INDEXED BY alerts_by_machine
                     WHERE tenant = +?1 AND machine_id = +?2
                       AND json_extract(doc, '$.title') = ?3 AND json_extract(doc, '$.status') <> 'Resolved'
                     ORDER BY last_update DESC LIMIT 1",
                )?
                .query_row(params![tenant.0, reference.machine_id, reference.title], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            if let Some((doc, evidence)) = open {
                return Ok(AlertByReference::Merged(AlertDocument { doc, evidence }));
            }
            let machine: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&machine).map_err(unreadable_json)?;
            let tenant_id: String =
                tx.query_row("SELECT id FROM tenants WHERE key = ?1", [tenant.0], |row| row.get(0))?;
            let alert = reference.alert(&alert_id, &machine, &tenant_id, now);
            let doc = serde_json::to_string(&alert).map_err(unreadable_json)?;
            let fields = EntitySet::Alerts.column_values(&alert);
            let key: [&dyn ToSql; 6] = [&tenant.0, &alert_id, &reference.machine_id, &now.0, &doc, &"[]"];
            tx.prepare_cached(&dialect::UPSERT_ALERT)?.execute(params_from_iter(
                key.into_iter().chain(fields.iter().map(|v| v as &dyn ToSql)),
            ))?;
            tx.commit()?;
            Ok(AlertByReference::Created(AlertDocument {
                doc,
                evidence: "[]".into(),
            }))
        })
        .await
    }

    async fn update_machines(
        &self,
        tenant: TenantKey,
        machine_ids: Vec<String>,
        seen_since: Timestamp,
        update: MachineUpdate,
    ) -> Result<Updated<String>> {
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let ranked = access::ranked_groups(&tx, tenant)?;
            let mut updated = Vec::with_capacity(machine_ids.len());
            for machine_id in machine_ids {
                let found: Option<String> = tx
                    .prepare_cached(
                        "SELECT doc FROM machines WHERE tenant = +?1 AND id = +?2 AND (last_seen IS NULL OR last_seen >= +?3)",
                    )?
                    .query_row(params![tenant.0, machine_id, seen_since.0], |row| row.get(0))
                    .optional()?;
                // Dropping the transaction rolls back what this call changed so far.
                let Some(doc) = found else { return Ok(Updated::NotFound(machine_id)) };
                let mut machine: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&doc).map_err(unreadable_json)?;
                update.apply(&mut machine);
                // A tag can move the machine to another device group, and its alerts with it.
                let regrouped = crate::grouping::stamp_machine(&ranked, &mut machine);
                let doc = serde_json::to_string(&machine).map_err(unreadable_json)?;
                let fields = EntitySet::Machines.column_values(&machine);
                let key: [&dyn ToSql; 3] = [&tenant.0, &machine_id, &doc];
                tx.prepare_cached(&dialect::UPDATE_MACHINE)?
                    .execute(params_from_iter(key.into_iter().chain(fields.iter().map(|v| v as &dyn ToSql))))?;
                if regrouped {
                    access::restamp_alerts(&tx, tenant, Some(&machine_id))?;
                }
                updated.push(doc);
            }
            tx.commit()?;
            Ok(Updated::All(updated))
        })
        .await
    }

    async fn machine(&self, tenant: TenantKey, id_or_name: &str, seen_since: Timestamp) -> Result<Option<String>> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT doc FROM (
                     SELECT doc, last_seen, 0 AS rank FROM machines WHERE tenant = +?1 AND id = +?2
                     UNION ALL
                     SELECT doc, last_seen, 1 FROM machines INDEXED BY machines_by_dns_name
                     WHERE tenant = +?1 AND dns_name = +?2 COLLATE NOCASE
                 ) WHERE last_seen IS NULL OR last_seen >= +?3 ORDER BY rank LIMIT 1",
            )?
            .query_row(params![tenant.0, id_or_name, seen_since.0], |row| row.get(0))
            .optional()
        })
    }

    async fn list(&self, tenant: TenantKey, query: &ListQuery) -> Result<Page> {
        self.read(|conn| list::list(conn, tenant, query))
    }

    async fn ready(&self) -> Result<()> {
        self.read_fresh(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }

    async fn begin_import(&self, tenant: TenantKey) -> Result<Box<dyn Import>> {
        let inner = Arc::clone(&self.inner);
        let import = tokio::task::spawn_blocking(move || import::SqliteImport::begin(inner, tenant))
            .await
            .map_err(|e| StoreError::Backend(format!("import task failed: {e}")))??;
        Ok(Box::new(import))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Columns, StoredRecord};

    fn machine(id: &str) -> StoredRecord {
        StoredRecord {
            id: id.into(),
            doc: format!("{{\"id\":\"{id}\"}}"),
            columns: Columns::Machine,
            fields: vec![crate::query::Scalar::Null; EntitySet::Machines.stored().count()],
        }
    }

    fn alert(id: &str, machine_id: &str) -> StoredRecord {
        StoredRecord {
            id: id.into(),
            doc: format!("{{\"id\":\"{id}\"}}"),
            columns: Columns::Alert {
                machine_id: Some(machine_id.into()),
                last_update: None,
                evidence: "[]".into(),
            },
            fields: vec![crate::query::Scalar::Null; EntitySet::Alerts.stored().count()],
        }
    }

    async fn import(store: &SqliteStore, tenant: TenantKey, records: Vec<StoredRecord>) {
        let mut import = store.begin_import(tenant).await.unwrap();
        import.upsert(records).await.unwrap();
        import.commit().await.unwrap();
    }

    /// Machine m1 as stored: in the Ungrouped device group.
    const UNGROUPED_M1: &str = r#"{"id":"m1","rbacGroupId":0,"rbacGroupName":null}"#;

    async fn found(store: &SqliteStore, tenant: TenantKey, alert: &str) -> AlertMachine {
        store.alert_machine(tenant, alert, Timestamp(0)).await.unwrap()
    }

    #[tokio::test]
    async fn own_writes_are_seen_at_once_and_other_processes_within_the_snapshot_age() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let store = SqliteStore::open(&path).unwrap();
        let tenant = store.create_tenant("t", "T", "t.example").await.unwrap().key;
        assert_eq!(found(&store, tenant, "a1").await, AlertMachine::AlertNotFound);
        import(&store, tenant, vec![machine("m1"), alert("a1", "m1")]).await;
        assert_eq!(
            found(&store, tenant, "a1").await,
            AlertMachine::Found(UNGROUPED_M1.into())
        );

        // Another handle on the same file stands for another process.
        let other = SqliteStore::open(&path).unwrap();
        import(&other, tenant, vec![alert("a2", "m1")]).await;
        let deadline = Instant::now() + SNAPSHOT_MAX_AGE * 4;
        while found(&store, tenant, "a2").await == AlertMachine::AlertNotFound {
            assert!(Instant::now() < deadline, "the other process's import stayed unseen");
            std::thread::sleep(Duration::from_millis(10));
        }
        // Registry lookups are never stale.
        other.create_tenant("u", "U", "u.example").await.unwrap();
        assert!(store.tenant("u.example").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn an_import_not_committed_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        let tenant = store.create_tenant("t", "T", "t.example").await.unwrap().key;
        import(&store, tenant, vec![machine("m1"), alert("a1", "m1")]).await;
        let mut abandoned = store.begin_import(tenant).await.unwrap();
        abandoned
            .upsert(vec![alert("a1", "m-other"), alert("a2", "m1")])
            .await
            .unwrap();
        drop(abandoned);
        assert_eq!(
            found(&store, tenant, "a1").await,
            AlertMachine::Found(UNGROUPED_M1.into())
        );
        assert_eq!(found(&store, tenant, "a2").await, AlertMachine::AlertNotFound);
        // And the store takes writes again.
        import(&store, tenant, vec![alert("a3", "m1")]).await;
        assert!(matches!(found(&store, tenant, "a3").await, AlertMachine::Found(_)));
    }
}
