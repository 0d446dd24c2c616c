//! PostgreSQL, for several replicas on one database: pooled connections (deadpool), the shared
//! list translation in PostgreSQL's [`Dialect`](crate::sql::Dialect), migrations of its own.
//!
//! Every read sees every committed write, whichever replica made it. Writes that read before
//! they write lock what they read (`FOR UPDATE`), and writes that regroup machines lock their
//! tenant's row, so concurrent replicas cannot lose each other's changes.
//!
//! The SQL used is plain PostgreSQL 12+: identity columns, `ON CONFLICT`, expression indexes on
//! `lower(...)`, `NULLS FIRST` indexes, `jsonb` functions for collection filters, `COLLATE "C"`,
//! row locks and one advisory lock (migrations). docs/postgres.md says what distributed engines
//! need of it.

mod access;
mod dialect;
mod import;
mod migrations;
#[cfg(test)]
mod plans;
mod tls;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use openmde_access::{DeviceGroup, Policy, Role, UserGroup};
use openmde_model::Timestamp;
use openmde_model::update::{AlertReference, MachineUpdate, SignedAlertUpdate};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use self::dialect::{Postgres, UPDATE_ALERT, UPDATE_MACHINE, UPSERT_ALERT};
use crate::query::{EntitySet, ListQuery, Page, Row as ListRow, Scalar};
use crate::rows::{self, Fields, SELECT_APP, SELECT_DEVICE_CODE, SELECT_SIGNING_KEYS, SELECT_TENANT, SELECT_USER};
use crate::sql::list::{count_statement, page_of, page_statement};
use crate::{
    AlertByReference, AlertDocument, AlertMachine, AppRegistration, DeviceCode, DeviceGroupRecord, Import, Result,
    SigningKeyRecord, Store, StoreError, Tenant, TenantKey, Updated, UserRecord,
};

type PgResult<T> = std::result::Result<T, StoreError>;

/// How long a request waits for a pooled connection, or for a new one, before the store
/// answers "unavailable".
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a statement may run (unless the URL's `options` set `statement_timeout`).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections per process unless the caller says otherwise.
pub const DEFAULT_POOL_SIZE: usize = 16;

pub struct PgStore {
    pool: Pool,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        let Some(db) = error.as_db_error() else {
            // No answer from the server: the connection is gone or could not be made.
            let io = std::error::Error::source(&error).is_some_and(|s| s.is::<std::io::Error>());
            return if error.is_closed() || io {
                StoreError::Unavailable(with_causes(&error))
            } else {
                StoreError::Backend(with_causes(&error))
            };
        };
        let code = db.code();
        let unavailable = code.code().starts_with("08")
            || [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::TOO_MANY_CONNECTIONS,
                SqlState::QUERY_CANCELED,
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::READ_ONLY_SQL_TRANSACTION,
            ]
            .contains(code);
        if *code == SqlState::UNIQUE_VIOLATION {
            StoreError::Conflict(db.message().to_string())
        } else if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE || *code == SqlState::UNTRANSLATABLE_CHARACTER {
            StoreError::Unstorable(db.message().to_string())
        } else if unavailable {
            StoreError::Unavailable(db.message().to_string())
        } else {
            StoreError::Backend(db.to_string())
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => error.into(),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// An error and what caused it ("error performing TLS handshake: invalid peer certificate: ...").
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.ends_with(&inner_text) {
            text = format!("{text}: {inner_text}");
        }
        cause = inner.source();
    }
    text
}

/// A stored value the code cannot read back.
fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

/// The URL with its password, if any, hidden (for messages and logs).
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let query: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| if p.starts_with("password=") { "password=***" } else { p })
        .collect();
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    format!("{scheme}://{authority}{path}{query}")
}

/// Creates the schema named `schema` in the database at `url` if it is missing, and returns a
/// URL whose connections use it: one database can hold many independent stores (tests,
/// sandboxes).
pub async fn with_schema(url: &str, schema: &str) -> Result<String> {
    if !schema
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Backend(format!(
            "schema name {schema:?}: use a-z, 0-9 and _"
        )));
    }
    let settings = tls::settings(url)?;
    let create = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    match settings.tls {
        Some(tls) => run_once(&settings.url, tls, &create).await?,
        None => run_once(&settings.url, NoTls, &create).await?,
    }
    Ok(schema_url(url, schema))
}

/// Runs `sql` on a connection of its own, closed afterwards.
async fn run_once<T>(url: &str, tls: T, sql: &str) -> Result<()>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = tokio_postgres::connect(url, tls).await?;
    let connection = tokio::spawn(connection);
    client.batch_execute(sql).await?;
    drop(client);
    let _ = connection.await;
    Ok(())
}

/// `url` with its connections' search path set to `schema`.
pub fn schema_url(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, libpq's URL form,
    /// `sslmode` as libpq reads it: see `tls.rs`) with a pool of `pool_size` connections, and
    /// brings the schema up to date.
    pub async fn open(url: &str, pool_size: usize) -> Result<Self> {
        let settings = tls::settings(url)?;
        let mut config = tokio_postgres::Config::from_str(&settings.url)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", redacted(url))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let options = config.get_options().unwrap_or_default();
        if !options.contains("statement_timeout") {
            let timeout = format!("-c statement_timeout={}", STATEMENT_TIMEOUT.as_millis());
            config.options(format!("{options} {timeout}").trim());
        }
        config.keepalives(true).keepalives_idle(Duration::from_secs(30));
        let recycling = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match settings.tls {
            Some(tls) => Manager::from_config(config, tls, recycling),
            None => Manager::from_config(config, NoTls, recycling),
        };
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(CONNECT_TIMEOUT),
                create: Some(CONNECT_TIMEOUT),
                recycle: Some(CONNECT_TIMEOUT),
            })
            .build()
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut client = pool.get().await?;
        migrations::run(&mut client).await?;
        Ok(PgStore { pool })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    /// The rows of one query, each mapped by `map`.
    async fn rows<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        map: impl Fn(&Row) -> PgResult<T>,
    ) -> Result<Vec<T>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        client.query(&statement, params).await?.iter().map(map).collect()
    }

    /// The row of a query that finds at most one, mapped by `map`.
    async fn row<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        map: impl Fn(&Row) -> PgResult<T>,
    ) -> Result<Option<T>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        client
            .query_opt(&statement, params)
            .await?
            .as_ref()
            .map(map)
            .transpose()
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.execute(&statement, params).await?)
    }
}

/// Parameters for a statement of the shared writes: key columns, then the catalog's columns.
fn with_fields<'a>(key: &[&'a (dyn ToSql + Sync)], fields: &'a [Scalar]) -> Vec<&'a (dyn ToSql + Sync)> {
    key.iter()
        .copied()
        .chain(fields.iter().map(|v| v as &(dyn ToSql + Sync)))
        .collect()
}

fn to_document(text: &str) -> PgResult<serde_json::Map<String, serde_json::Value>> {
    serde_json::from_str(text).map_err(corrupt)
}

fn to_text(document: &serde_json::Map<String, serde_json::Value>) -> PgResult<String> {
    serde_json::to_string(document).map_err(corrupt)
}

impl Fields for Row {
    type Error = StoreError;

    fn text(&self, index: usize) -> PgResult<String> {
        Ok(self.try_get(index)?)
    }

    fn optional_text(&self, index: usize) -> PgResult<Option<String>> {
        Ok(self.try_get(index)?)
    }

    fn integer(&self, index: usize) -> PgResult<i64> {
        Ok(self.try_get(index)?)
    }

    fn bytes(&self, index: usize) -> PgResult<Vec<u8>> {
        Ok(self.try_get(index)?)
    }

    fn flag(&self, index: usize) -> PgResult<bool> {
        Ok(self.try_get(index)?)
    }

    fn unreadable(what: String) -> StoreError {
        StoreError::Corrupt(what)
    }
}

fn alert_from_row(row: &Row) -> PgResult<AlertDocument> {
    Ok(AlertDocument {
        doc: row.try_get(0)?,
        evidence: row.try_get(1)?,
    })
}

/// An alert's document and evidence, if last updated at or after `$3`.
const SELECT_RETAINED_ALERT: &str =
    "SELECT doc, evidence FROM alerts WHERE tenant = $1 AND id = $2 AND last_update >= $3";

/// Runs `work` in a transaction on a pooled connection: committed if it ends in `Ok`; rolled
/// back if it fails or returns early (a dropped transaction rolls back).
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $work:expr) => {{
        let mut client = $store.client().await?;
        let $tx = client.transaction().await?;
        let value = $work?;
        $tx.commit().await?;
        Ok(value)
    }};
}

#[async_trait]
impl Store for PgStore {
    async fn tenants(&self) -> Result<Vec<Tenant>> {
        self.rows(&format!("{SELECT_TENANT} ORDER BY key"), &[], rows::tenant)
            .await
    }

    async fn tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>> {
        self.row(
            &format!("{SELECT_TENANT} WHERE id = lower($1) OR lower(domain) = lower($1)"),
            &[&id_or_domain],
            rows::tenant,
        )
        .await
    }

    async fn create_tenant(&self, id: &str, name: &str, domain: &str) -> Result<Tenant> {
        let id = id.to_ascii_lowercase();
        in_transaction!(self, |tx| {
            let now = Timestamp::now();
            let row = tx
                .query_one(
                    "INSERT INTO tenants (id, name, domain, created) VALUES ($1, $2, $3, $4) RETURNING key",
                    &[&id, &name, &domain, &now.0],
                )
                .await?;
            let key = TenantKey(row.try_get(0)?);
            access::set_up_tenant(&tx, key, now).await?;
            PgResult::Ok(Tenant {
                key,
                id,
                name: name.to_string(),
                domain: domain.to_string(),
            })
        })
    }

    async fn app(&self, client_id: &str) -> Result<Option<AppRegistration>> {
        self.row(
            &format!("{SELECT_APP} WHERE client_id = lower($1)"),
            &[&client_id],
            rows::app,
        )
        .await
    }

    async fn create_app(&self, app: &AppRegistration) -> Result<()> {
        let roles = serde_json::to_string(&app.roles).map_err(corrupt)?;
        self.execute(
            "INSERT INTO apps (client_id, tenant, object_id, name, secret_sha256, roles, created)
             VALUES (lower($1), $2, $3, $4, $5, $6, $7)",
            &[
                &app.client_id,
                &app.tenant.0,
                &app.object_id,
                &app.name,
                &&app.secret_sha256[..],
                &roles,
                &Timestamp::now().0,
            ],
        )
        .await
        .map(drop)
    }

    async fn set_app_secret(&self, client_id: &str, secret_sha256: [u8; 32]) -> Result<bool> {
        let changed = self
            .execute(
                "UPDATE apps SET secret_sha256 = $2 WHERE client_id = lower($1)",
                &[&client_id, &&secret_sha256[..]],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn add_app_certificate(&self, client_id: &str, certificate_der: &[u8]) -> Result<()> {
        self.execute(
            "INSERT INTO app_certificates (client_id, certificate_der, created) VALUES (lower($1), $2, $3)
             ON CONFLICT DO NOTHING",
            &[&client_id, &certificate_der, &Timestamp::now().0],
        )
        .await
        .map(drop)
    }

    async fn app_certificates(&self, client_id: &str) -> Result<Vec<Vec<u8>>> {
        self.rows(
            "SELECT certificate_der FROM app_certificates WHERE client_id = lower($1) ORDER BY created",
            &[&client_id],
            |row| Ok(row.try_get(0)?),
        )
        .await
    }

    async fn apps(&self, tenant: TenantKey) -> Result<Vec<AppRegistration>> {
        self.rows(
            &format!("{SELECT_APP} WHERE tenant = $1 ORDER BY created, client_id"),
            &[&tenant.0],
            rows::app,
        )
        .await
    }

    async fn delete_app(&self, client_id: &str) -> Result<bool> {
        let client_id = client_id.to_ascii_lowercase();
        in_transaction!(self, |tx| {
            tx.execute("DELETE FROM app_certificates WHERE client_id = $1", &[&client_id])
                .await?;
            PgResult::Ok(
                tx.execute("DELETE FROM apps WHERE client_id = $1", &[&client_id])
                    .await?
                    == 1,
            )
        })
    }

    async fn create_user(&self, user: &UserRecord) -> Result<()> {
        self.execute(
            "INSERT INTO users (tenant, object_id, upn, display_name, password_hash, created)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &user.tenant.0,
                &user.object_id,
                &user.upn,
                &user.display_name,
                &user.password_hash,
                &Timestamp::now().0,
            ],
        )
        .await
        .map(drop)
    }

    async fn users(&self, tenant: TenantKey) -> Result<Vec<UserRecord>> {
        self.rows(
            &format!("{SELECT_USER} WHERE tenant = $1 ORDER BY lower(upn)"),
            &[&tenant.0],
            rows::user,
        )
        .await
    }

    async fn delete_user(&self, tenant: TenantKey, object_id: &str) -> Result<bool> {
        in_transaction!(self, |tx| {
            tx.execute(
                "DELETE FROM device_codes WHERE tenant = $1 AND user_id = $2",
                &[&tenant.0, &object_id],
            )
            .await?;
            let deleted = tx
                .execute(
                    "DELETE FROM users WHERE tenant = $1 AND object_id = $2",
                    &[&tenant.0, &object_id],
                )
                .await?;
            PgResult::Ok(deleted == 1)
        })
    }

    async fn user_by_upn(&self, upn: &str) -> Result<Option<UserRecord>> {
        self.row(
            &format!("{SELECT_USER} WHERE lower(upn) = lower($1)"),
            &[&upn],
            rows::user,
        )
        .await
    }

    async fn user(&self, tenant: TenantKey, object_id: &str) -> Result<Option<UserRecord>> {
        self.row(
            &format!("{SELECT_USER} WHERE tenant = $1 AND object_id = $2"),
            &[&tenant.0, &object_id],
            rows::user,
        )
        .await
    }

    async fn create_device_code(&self, code: &DeviceCode) -> Result<()> {
        in_transaction!(self, |tx| {
            // Expired authorizations go as new ones come.
            tx.execute("DELETE FROM device_codes WHERE expires < $1", &[&Timestamp::now().0])
                .await?;
            tx.execute(
                "INSERT INTO device_codes (device_code, user_code, tenant, client_id, scope, expires, user_id)
                 VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                &[
                    &code.device_code,
                    &code.user_code,
                    &code.tenant.0,
                    &code.client_id,
                    &code.scope,
                    &code.expires.0,
                ],
            )
            .await?;
            PgResult::Ok(())
        })
    }

    async fn device_code(&self, device_code: &str) -> Result<Option<DeviceCode>> {
        self.row(
            &format!("{SELECT_DEVICE_CODE} WHERE device_code = $1"),
            &[&device_code],
            rows::device_code,
        )
        .await
    }

    async fn approve_device_code(
        &self,
        tenant: TenantKey,
        user_code: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let changed = self
            .execute(
                "UPDATE device_codes SET user_id = $3
                 WHERE tenant = $1 AND lower(user_code) = lower($2) AND user_id IS NULL AND expires >= $4",
                &[&tenant.0, &user_code, &user_id, &now.0],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn delete_device_code(&self, device_code: &str) -> Result<bool> {
        Ok(self
            .execute("DELETE FROM device_codes WHERE device_code = $1", &[&device_code])
            .await?
            == 1)
    }

    async fn user_groups(&self, tenant: TenantKey) -> Result<Vec<UserGroup>> {
        access::user_groups(&self.client().await?, tenant).await
    }

    async fn create_user_group(&self, tenant: TenantKey, group: &UserGroup) -> Result<()> {
        in_transaction!(self, |tx| access::create_user_group(
            &tx,
            tenant,
            group,
            Timestamp::now()
        )
        .await)
    }

    async fn delete_user_group(&self, tenant: TenantKey, group_id: &str) -> Result<bool> {
        in_transaction!(self, |tx| access::delete_user_group(&tx, tenant, group_id).await)
    }

    async fn set_group_member(&self, tenant: TenantKey, group_id: &str, user_id: &str, member: bool) -> Result<bool> {
        access::set_group_member(&self.client().await?, tenant, group_id, user_id, member).await
    }

    async fn member_of(&self, tenant: TenantKey, user_id: &str) -> Result<Vec<String>> {
        access::member_of(&self.client().await?, tenant, user_id).await
    }

    async fn roles(&self, tenant: TenantKey) -> Result<Vec<Role>> {
        access::roles(&self.client().await?, tenant).await
    }

    async fn put_role(&self, tenant: TenantKey, role: &Role) -> Result<()> {
        access::put_role(&self.client().await?, tenant, role).await
    }

    async fn delete_role(&self, tenant: TenantKey, role_id: &str) -> Result<bool> {
        Ok(self
            .execute(
                "DELETE FROM roles WHERE tenant = $1 AND id = $2 AND NOT built_in",
                &[&tenant.0, &role_id],
            )
            .await?
            == 1)
    }

    async fn device_groups(&self, tenant: TenantKey) -> Result<Vec<DeviceGroupRecord>> {
        access::device_groups(&self.client().await?, tenant).await
    }

    async fn create_device_group(&self, tenant: TenantKey, group: &DeviceGroup) -> Result<DeviceGroup> {
        in_transaction!(self, |tx| {
            access::lock_tenant(&tx, tenant, true).await?;
            let id = access::next_device_group_id(&tx, tenant).await?;
            let group = DeviceGroup { id, ..group.clone() };
            access::save_device_group(&tx, tenant, group).await
        })
    }

    async fn update_device_group(&self, tenant: TenantKey, group: &DeviceGroup) -> Result<Option<DeviceGroup>> {
        in_transaction!(self, |tx| {
            access::lock_tenant(&tx, tenant, true).await?;
            if access::device_group_exists(&tx, tenant, group.id).await? {
                access::save_device_group(&tx, tenant, group.clone()).await.map(Some)
            } else {
                Ok(None)
            }
        })
    }

    async fn delete_device_group(&self, tenant: TenantKey, group_id: i64) -> Result<bool> {
        in_transaction!(self, |tx| {
            access::lock_tenant(&tx, tenant, true).await?;
            access::delete_device_group(&tx, tenant, group_id).await
        })
    }

    async fn policy(&self, tenant: TenantKey) -> Result<Policy> {
        let client = self.client().await?;
        Ok(Policy {
            roles: access::roles(&client, tenant).await?,
            device_groups: access::ranked_groups(&client, tenant).await?,
        })
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        self.rows(SELECT_SIGNING_KEYS, &[], rows::signing_key).await
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
        self.execute(
            "INSERT INTO signing_keys (kid, private_key_pem, certificate_der, created) VALUES ($1, $2, $3, $4)",
            &[&key.kid, &key.private_key_pem, &key.certificate_der, &key.created.0],
        )
        .await
        .map(drop)
    }

    async fn alert_machine(&self, tenant: TenantKey, alert_id: &str, updated_since: Timestamp) -> Result<AlertMachine> {
        let row = self
            .row(
                "SELECT a.machine_id, m.doc FROM alerts a
                 LEFT JOIN machines m ON m.tenant = a.tenant AND m.id = a.machine_id
                 WHERE a.tenant = $1 AND a.id = $2 AND a.last_update >= $3",
                &[&tenant.0, &alert_id, &updated_since.0],
                |row| {
                    Ok((
                        row.try_get::<_, Option<String>>(0)?,
                        row.try_get::<_, Option<String>>(1)?,
                    ))
                },
            )
            .await?;
        Ok(AlertMachine::from_lookup(row))
    }

    async fn alert(
        &self,
        tenant: TenantKey,
        alert_id: &str,
        updated_since: Timestamp,
    ) -> Result<Option<AlertDocument>> {
        self.row(
            SELECT_RETAINED_ALERT,
            &[&tenant.0, &alert_id, &updated_since.0],
            alert_from_row,
        )
        .await
    }

    async fn update_alerts(
        &self,
        tenant: TenantKey,
        alert_ids: Vec<String>,
        updated_since: Timestamp,
        change: SignedAlertUpdate,
    ) -> Result<Updated<AlertDocument>> {
        in_transaction!(self, |tx| {
            let select = tx
                .prepare_cached(&format!("{SELECT_RETAINED_ALERT} FOR UPDATE"))
                .await?;
            let update = tx.prepare_cached(&UPDATE_ALERT).await?;
            let mut updated = Vec::with_capacity(alert_ids.len());
            let mut missing = None;
            for alert_id in alert_ids {
                let Some(found) = tx.query_opt(&select, &[&tenant.0, &alert_id, &updated_since.0]).await? else {
                    missing = Some(alert_id);
                    break;
                };
                let AlertDocument { doc, evidence } = alert_from_row(&found)?;
                let mut alert = to_document(&doc)?;
                change.apply(&mut alert);
                let doc = to_text(&alert)?;
                let fields = EntitySet::Alerts.column_values(&alert);
                tx.execute(
                    &update,
                    &with_fields(&[&tenant.0, &alert_id, &doc, &change.at.0], &fields),
                )
                .await?;
                updated.push(AlertDocument { doc, evidence });
            }
            // One alert not found: nothing is written (the transaction is not committed).
            match missing {
                Some(alert_id) => return Ok(Updated::NotFound(alert_id)),
                None => PgResult::Ok(Updated::All(updated)),
            }
        })
    }

    async fn create_alert_by_reference(
        &self,
        tenant: TenantKey,
        alert_id: String,
        reference: AlertReference,
        now: Timestamp,
    ) -> Result<AlertByReference> {
        in_transaction!(self, |tx| {
            // The machine's row lock serialises alerts raised on it, so two cannot both be new.
            let Some(machine) = tx
                .query_opt(
                    "SELECT doc FROM machines WHERE tenant = $1 AND id = $2 FOR UPDATE",
                    &[&tenant.0, &reference.machine_id],
                )
                .await?
            else {
                return Ok(AlertByReference::MachineNotFound);
            };
            let open = tx
                .query_opt(
                    "SELECT doc, evidence FROM alerts
                     WHERE tenant = $1 AND machine_id = $2
                       AND doc::jsonb ->> 'title' = $3 AND doc::jsonb ->> 'status' IS DISTINCT FROM 'Resolved'
                     ORDER BY last_update DESC LIMIT 1",
                    &[&tenant.0, &reference.machine_id, &reference.title],
                )
                .await?;
            if let Some(open) = open {
                return Ok(AlertByReference::Merged(alert_from_row(&open)?));
            }
            let machine = to_document(&machine.try_get::<_, String>(0)?)?;
            let tenant_id: String = tx
                .query_one("SELECT id FROM tenants WHERE key = $1", &[&tenant.0])
                .await?
                .try_get(0)?;
            let alert = reference.alert(&alert_id, &machine, &tenant_id, now);
            let doc = to_text(&alert)?;
            let fields = EntitySet::Alerts.column_values(&alert);
            let key: [&(dyn ToSql + Sync); 6] = [&tenant.0, &alert_id, &reference.machine_id, &now.0, &doc, &"[]"];
            tx.execute(&*UPSERT_ALERT, &with_fields(&key, &fields)).await?;
            PgResult::Ok(AlertByReference::Created(AlertDocument {
                doc,
                evidence: "[]".into(),
            }))
        })
    }

    async fn update_machines(
        &self,
        tenant: TenantKey,
        machine_ids: Vec<String>,
        seen_since: Timestamp,
        update: MachineUpdate,
    ) -> Result<Updated<String>> {
        in_transaction!(self, |tx| {
            access::lock_tenant(&tx, tenant, false).await?;
            let ranked = access::ranked_groups(&tx, tenant).await?;
            let select = tx
                .prepare_cached(
                    "SELECT doc FROM machines WHERE tenant = $1 AND id = $2 AND (last_seen IS NULL OR last_seen >= $3)
                     FOR UPDATE",
                )
                .await?;
            let write = tx.prepare_cached(&UPDATE_MACHINE).await?;
            let mut updated = Vec::with_capacity(machine_ids.len());
            let mut missing = None;
            for machine_id in machine_ids {
                let Some(found) = tx.query_opt(&select, &[&tenant.0, &machine_id, &seen_since.0]).await? else {
                    missing = Some(machine_id);
                    break;
                };
                let mut machine = to_document(&found.try_get::<_, String>(0)?)?;
                update.apply(&mut machine);
                // A tag can move the machine to another device group, and its alerts with it.
                let regrouped = crate::grouping::stamp_machine(&ranked, &mut machine);
                let doc = to_text(&machine)?;
                let fields = EntitySet::Machines.column_values(&machine);
                tx.execute(&write, &with_fields(&[&tenant.0, &machine_id, &doc], &fields))
                    .await?;
                if regrouped {
                    access::restamp_alerts(&tx, tenant, Some(&machine_id)).await?;
                }
                updated.push(doc);
            }
            match missing {
                Some(machine_id) => return Ok(Updated::NotFound(machine_id)),
                None => PgResult::Ok(Updated::All(updated)),
            }
        })
    }

    async fn machine(&self, tenant: TenantKey, id_or_name: &str, seen_since: Timestamp) -> Result<Option<String>> {
        self.row(
            "SELECT doc FROM (
                 SELECT doc, last_seen, 0 AS rank FROM machines WHERE tenant = $1 AND id = $2
                 UNION ALL
                 SELECT doc, last_seen, 1 FROM machines WHERE tenant = $1 AND lower(dns_name) = lower($2)
             ) found WHERE last_seen IS NULL OR last_seen >= $3 ORDER BY rank LIMIT 1",
            &[&tenant.0, &id_or_name, &seen_since.0],
            |row| Ok(row.try_get(0)?),
        )
        .await
    }

    async fn list(&self, tenant: TenantKey, query: &ListQuery) -> Result<Page> {
        let client = self.client().await?;
        let count = if query.count {
            let sql = count_statement::<Postgres>(tenant, query);
            let statement = client.prepare_cached(&sql.text).await?;
            let params: Vec<&(dyn ToSql + Sync)> = sql.params.iter().map(|p| p as _).collect();
            let total: i64 = client.query_one(&statement, &params).await?.try_get(0)?;
            Some(total.max(0) as u64)
        } else {
            None
        };
        if query.limit == 0 {
            return Ok(page_of(query, Vec::new(), count));
        }
        let sql = page_statement::<Postgres>(tenant, query);
        let statement = client.prepare_cached(&sql.text).await?;
        let params: Vec<&(dyn ToSql + Sync)> = sql.params.iter().map(|p| p as _).collect();
        let rows = client
            .query(&statement, &params)
            .await?
            .iter()
            .map(|row| {
                let keys = query
                    .order
                    .iter()
                    .enumerate()
                    .map(|(i, (field, _))| ordering_key(row, 3 + i, field.field_type))
                    .collect::<PgResult<_>>()?;
                let row = ListRow {
                    id: row.try_get(0)?,
                    doc: row.try_get(1)?,
                    evidence: row.try_get(2)?,
                };
                Ok((row, keys))
            })
            .collect::<PgResult<_>>()?;
        Ok(page_of(query, rows, count))
    }

    async fn ready(&self) -> Result<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    async fn begin_import(&self, tenant: TenantKey) -> Result<Box<dyn Import>> {
        Ok(Box::new(import::PgImport::begin(self.client().await?, tenant).await?))
    }
}

/// The value of an ordering column, as a cursor keeps it.
fn ordering_key(row: &Row, index: usize, field_type: crate::query::FieldType) -> PgResult<Scalar> {
    use crate::query::FieldType;
    Ok(match field_type {
        FieldType::Id | FieldType::Text => row
            .try_get::<_, Option<String>>(index)?
            .map_or(Scalar::Null, Scalar::Text),
        _ => row
            .try_get::<_, Option<i64>>(index)?
            .map_or(Scalar::Null, Scalar::Integer),
    })
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn urls_lose_their_passwords_for_messages() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/openmde?sslmode=require"),
            "postgres://app:***@db:5432/openmde?sslmode=require"
        );
        assert_eq!(
            redacted("postgres://app@db/openmde?password=s3cret&options=-c%20x%3D%40y"),
            "postgres://app@db/openmde?password=***&options=-c%20x%3D%40y"
        );
        assert_eq!(redacted("postgresql://db/x"), "postgresql://db/x");
    }
}
