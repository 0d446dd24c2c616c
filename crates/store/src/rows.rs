//! Rows of the registry tables read into domain values, once for both backends: each `SELECT_*`
//! names the columns its reader takes, in order, and [`Fields`] is what a backend's row offers.

use openmde_access::{AutomationLevel, DeviceGroup, DeviceGroupRules, Role, RolePermission};
use openmde_model::Timestamp;

use crate::{AppRegistration, DeviceCode, SigningKeyRecord, Tenant, TenantKey, UserRecord};

/// A result row of either backend, read by column position.
pub(crate) trait Fields {
    type Error;
    fn text(&self, index: usize) -> Result<String, Self::Error>;
    fn optional_text(&self, index: usize) -> Result<Option<String>, Self::Error>;
    fn integer(&self, index: usize) -> Result<i64, Self::Error>;
    fn bytes(&self, index: usize) -> Result<Vec<u8>, Self::Error>;
    fn flag(&self, index: usize) -> Result<bool, Self::Error>;
    /// A value the code cannot read back (`what` says which).
    fn unreadable(what: String) -> Self::Error;

    fn json<T: serde::de::DeserializeOwned>(&self, index: usize) -> Result<T, Self::Error> {
        serde_json::from_str(&self.text(index)?).map_err(|e| Self::unreadable(format!("column {index}: {e}")))
    }
}

pub(crate) const SELECT_TENANT: &str = "SELECT key, id, name, domain FROM tenants";

pub(crate) fn tenant<R: Fields>(row: &R) -> Result<Tenant, R::Error> {
    Ok(Tenant {
        key: TenantKey(row.integer(0)?),
        id: row.text(1)?,
        name: row.text(2)?,
        domain: row.text(3)?,
    })
}

pub(crate) const SELECT_USER: &str = "SELECT tenant, object_id, upn, display_name, password_hash FROM users";

pub(crate) fn user<R: Fields>(row: &R) -> Result<UserRecord, R::Error> {
    Ok(UserRecord {
        tenant: TenantKey(row.integer(0)?),
        object_id: row.text(1)?,
        upn: row.text(2)?,
        display_name: row.text(3)?,
        password_hash: row.text(4)?,
    })
}

pub(crate) const SELECT_APP: &str = "SELECT client_id, tenant, object_id, name, secret_sha256, roles FROM apps";

pub(crate) fn app<R: Fields>(row: &R) -> Result<AppRegistration, R::Error> {
    Ok(AppRegistration {
        client_id: row.text(0)?,
        tenant: TenantKey(row.integer(1)?),
        object_id: row.text(2)?,
        name: row.text(3)?,
        secret_sha256: row
            .bytes(4)?
            .try_into()
            .map_err(|_| R::unreadable("app secret hash length".into()))?,
        roles: row.json(5)?,
    })
}

pub(crate) const SELECT_DEVICE_CODE: &str =
    "SELECT device_code, user_code, tenant, client_id, scope, expires, user_id FROM device_codes";

pub(crate) fn device_code<R: Fields>(row: &R) -> Result<DeviceCode, R::Error> {
    Ok(DeviceCode {
        device_code: row.text(0)?,
        user_code: row.text(1)?,
        tenant: TenantKey(row.integer(2)?),
        client_id: row.text(3)?,
        scope: row.text(4)?,
        expires: Timestamp(row.integer(5)?),
        user_id: row.optional_text(6)?,
    })
}

pub(crate) const SELECT_SIGNING_KEYS: &str =
    "SELECT kid, private_key_pem, certificate_der, created FROM signing_keys ORDER BY created";

pub(crate) fn signing_key<R: Fields>(row: &R) -> Result<SigningKeyRecord, R::Error> {
    Ok(SigningKeyRecord {
        kid: row.text(0)?,
        private_key_pem: row.text(1)?,
        certificate_der: row.bytes(2)?,
        created: Timestamp(row.integer(3)?),
    })
}

pub(crate) const SELECT_ROLE: &str = "SELECT id, name, description, permissions, user_groups, built_in FROM roles";

pub(crate) fn role<R: Fields>(row: &R) -> Result<Role, R::Error> {
    Ok(Role {
        id: row.text(0)?,
        name: row.text(1)?,
        description: row.optional_text(2)?,
        permissions: row.json::<Vec<RolePermission>>(3)?.into_iter().collect(),
        user_groups: row.json(4)?,
        built_in: row.flag(5)?,
    })
}

pub(crate) const SELECT_DEVICE_GROUP: &str =
    "SELECT id, priority, name, description, automation_level, rules, user_groups, last_update FROM device_groups";

/// A device group and when it last changed.
pub(crate) fn device_group<R: Fields>(row: &R) -> Result<(DeviceGroup, Timestamp), R::Error> {
    let automation_level = row.text(4)?;
    let group = DeviceGroup {
        id: row.integer(0)?,
        priority: row.integer(1)?,
        name: row.text(2)?,
        description: row.optional_text(3)?,
        automation_level: serde_json::from_value::<AutomationLevel>(serde_json::Value::String(automation_level))
            .map_err(|e| R::unreadable(format!("automation level: {e}")))?,
        rules: row.json::<DeviceGroupRules>(5)?,
        user_groups: row.json(6)?,
    };
    Ok((group, Timestamp(row.integer(7)?)))
}
