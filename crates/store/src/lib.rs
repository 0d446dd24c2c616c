//! Storage for openmde: the [`Store`] trait the server is written against, and its backends:
//! [`sqlite`] (the embedded default) and [`postgres`] (several replicas).
//!
//! Callers see domain values only. SQL both backends need is written once in `sql/`, spelled
//! by each backend's dialect; the rest stays inside its backend. Entities are stored as
//! canonical JSON documents ([`openmde_model::Record`]) with a few key columns beside them, so a
//! record imported from a real tenant keeps every field.

mod document;
mod error;
mod grouping;
pub mod postgres;
pub mod query;
mod rows;
mod sql;
pub mod sqlite;
mod types;

pub use document::{Columns, StoredRecord};
pub use error::StoreError;
pub use types::{
    AlertByReference, AlertDocument, AlertMachine, AppRegistration, DeviceCode, DeviceGroupRecord, ImportCounts,
    SigningKeyRecord, Tenant, TenantKey, Updated, UserRecord,
};

use async_trait::async_trait;
use openmde_access::{DeviceGroup, Policy, Role, UserGroup};
use openmde_model::Timestamp;
use openmde_model::update::{AlertReference, MachineUpdate, SignedAlertUpdate};

/// The user group every tenant starts with, holding the built-in administrator role.
pub const ADMINISTRATORS_GROUP: &str = "MDE administrators";

pub type Result<T> = std::result::Result<T, StoreError>;

/// For lookups by a key that came from a request.
pub trait Lookup<T> {
    /// A key the store cannot hold ([`StoreError::Unstorable`]) names nothing: `Ok(None)`, as
    /// on a store that can hold it.
    fn or_absent(self) -> Result<Option<T>>;
}

impl<T> Lookup<T> for Result<Option<T>> {
    fn or_absent(self) -> Result<Option<T>> {
        match self {
            Err(StoreError::Unstorable(_)) => Ok(None),
            other => other,
        }
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// All tenants, oldest first.
    async fn tenants(&self) -> Result<Vec<Tenant>>;
    /// A tenant by its GUID or by its domain name (case-insensitive).
    async fn tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>>;
    /// A new tenant with the built-in administrator role, assigned to a new user group
    /// [`ADMINISTRATORS_GROUP`], and the Ungrouped device group.
    async fn create_tenant(&self, id: &str, name: &str, domain: &str) -> Result<Tenant>;

    async fn app(&self, client_id: &str) -> Result<Option<AppRegistration>>;
    async fn create_app(&self, app: &AppRegistration) -> Result<()>;

    /// Registers a certificate (DER) the application may sign client assertions with.
    async fn add_app_certificate(&self, client_id: &str, certificate_der: &[u8]) -> Result<()>;
    async fn app_certificates(&self, client_id: &str) -> Result<Vec<Vec<u8>>>;

    /// A tenant's applications, oldest first.
    async fn apps(&self, tenant: TenantKey) -> Result<Vec<AppRegistration>>;
    /// Replaces an application's secret; the old one is refused from then on. False if there
    /// is no such application.
    async fn set_app_secret(&self, client_id: &str, secret_sha256: [u8; 32]) -> Result<bool>;
    /// Removes an application and its certificates; its tokens are refused from then on.
    async fn delete_app(&self, client_id: &str) -> Result<bool>;

    async fn create_user(&self, user: &UserRecord) -> Result<()>;
    async fn users(&self, tenant: TenantKey) -> Result<Vec<UserRecord>>;
    /// Removes a user and their group memberships.
    async fn delete_user(&self, tenant: TenantKey, object_id: &str) -> Result<bool>;
    /// A user by user principal name, in any tenant (names are unique across tenants).
    async fn user_by_upn(&self, upn: &str) -> Result<Option<UserRecord>>;
    async fn user(&self, tenant: TenantKey, object_id: &str) -> Result<Option<UserRecord>>;

    async fn create_device_code(&self, code: &DeviceCode) -> Result<()>;
    async fn device_code(&self, device_code: &str) -> Result<Option<DeviceCode>>;
    /// Marks the pending, unexpired authorization with `user_code` in `tenant` approved by
    /// `user_id`; false if there is none.
    async fn approve_device_code(
        &self,
        tenant: TenantKey,
        user_code: &str,
        user_id: &str,
        now: Timestamp,
    ) -> Result<bool>;
    /// Removes an authorization (redeemed, or expired); true if it was there.
    async fn delete_device_code(&self, device_code: &str) -> Result<bool>;

    /// User groups with their members, by name.
    async fn user_groups(&self, tenant: TenantKey) -> Result<Vec<UserGroup>>;
    async fn create_user_group(&self, tenant: TenantKey, group: &UserGroup) -> Result<()>;
    /// Removes a group and its assignments to roles and device groups.
    async fn delete_user_group(&self, tenant: TenantKey, group_id: &str) -> Result<bool>;
    /// Adds (`member`) or removes a user; false if nothing changed.
    async fn set_group_member(&self, tenant: TenantKey, group_id: &str, user_id: &str, member: bool) -> Result<bool>;
    /// The ids of the user groups `user_id` is a member of.
    async fn member_of(&self, tenant: TenantKey, user_id: &str) -> Result<Vec<String>>;

    /// Roles, the built-in one first.
    async fn roles(&self, tenant: TenantKey) -> Result<Vec<Role>>;
    /// Creates or replaces (by id) a custom role.
    async fn put_role(&self, tenant: TenantKey, role: &Role) -> Result<()>;
    async fn delete_role(&self, tenant: TenantKey, role_id: &str) -> Result<bool>;

    /// Device groups by rank, the Ungrouped group last.
    async fn device_groups(&self, tenant: TenantKey) -> Result<Vec<DeviceGroupRecord>>;
    /// Adds a named group at its `priority` (clamped; later ones move down) under a new id,
    /// and moves every machine (and its alerts) into its group, in one transaction.
    async fn create_device_group(&self, tenant: TenantKey, group: &DeviceGroup) -> Result<DeviceGroup>;
    /// Replaces a group (by id; the Ungrouped one keeps its rules and rank), then regroups.
    async fn update_device_group(&self, tenant: TenantKey, group: &DeviceGroup) -> Result<Option<DeviceGroup>>;
    /// Removes a named group; its machines move to their next matching group.
    async fn delete_device_group(&self, tenant: TenantKey, group_id: i64) -> Result<bool>;
    /// Roles and device groups: what a user's access is computed from.
    async fn policy(&self, tenant: TenantKey) -> Result<Policy>;

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>>;
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;

    /// The machine of an alert last updated at or after `updated_since`.
    async fn alert_machine(&self, tenant: TenantKey, alert_id: &str, updated_since: Timestamp) -> Result<AlertMachine>;

    /// An alert last updated at or after `updated_since`: its document and its evidence array.
    async fn alert(&self, tenant: TenantKey, alert_id: &str, updated_since: Timestamp)
    -> Result<Option<AlertDocument>>;

    /// Applies `change` to every alert of `alert_ids` last updated at or after `updated_since`,
    /// in one transaction: all of them, or, if one is not found, none.
    async fn update_alerts(
        &self,
        tenant: TenantKey,
        alert_ids: Vec<String>,
        updated_since: Timestamp,
        change: SignedAlertUpdate,
    ) -> Result<Updated<AlertDocument>>;

    /// Raises an alert with id `alert_id` from `reference` on its machine, or merges it into
    /// an open alert of the same title there, in one transaction.
    async fn create_alert_by_reference(
        &self,
        tenant: TenantKey,
        alert_id: String,
        reference: AlertReference,
        now: Timestamp,
    ) -> Result<AlertByReference>;

    /// Applies `update` to every machine of `machine_ids` last seen at or after `seen_since`
    /// (or never seen), in one transaction: all of them, or, if one is not found, none.
    async fn update_machines(
        &self,
        tenant: TenantKey,
        machine_ids: Vec<String>,
        seen_since: Timestamp,
        update: MachineUpdate,
    ) -> Result<Updated<String>>;

    /// A machine by id or, failing that, by computer DNS name (case-insensitive), if it was last
    /// seen at or after `seen_since` (machines never seen are kept).
    async fn machine(&self, tenant: TenantKey, id_or_name: &str, seen_since: Timestamp) -> Result<Option<String>>;

    /// A page of a list of alerts or machines, and its count if asked for.
    async fn list(&self, tenant: TenantKey, query: &query::ListQuery) -> Result<query::Page>;

    /// Whether the store answers (for `/readyz`).
    async fn ready(&self) -> Result<()>;

    /// Starts an import into one tenant: nothing of it is visible, or kept, until `commit`.
    async fn begin_import(&self, tenant: TenantKey) -> Result<Box<dyn Import>>;
}

/// One import transaction. Dropping it without `commit` writes nothing.
#[async_trait]
pub trait Import: Send {
    /// Inserts or replaces (by id) each record.
    async fn upsert(&mut self, records: Vec<StoredRecord>) -> Result<()>;
    async fn commit(self: Box<Self>) -> Result<ImportCounts>;
}
