//! Management of tenants, applications, users, user groups, roles and device groups: the one
//! implementation behind the CLI (`openmde tenants|apps|users|groups|roles|device-groups`) and
//! the admin HTTP API. Requests are the JSON bodies of the admin API; answers are the JSON the
//! CLI prints with `--json`.
//!
//! Entities are named by id or by name (users by object id or UPN), ignoring case.

use openmde_access::{AutomationLevel, DeviceGroup, DeviceGroupRules, Role, RolePermission, UserGroup};
use openmde_identity::{resource, secret};
use openmde_store::{AppRegistration, DeviceGroupRecord, Store, StoreError, Tenant, UserRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::AccessCache;

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ManageError {
    fn from(error: StoreError) -> Self {
        match error {
            // A unique name or id taken: the message names the constraint, not a secret.
            StoreError::Conflict(_) => ManageError::Conflict("an entity with this name or id exists already".into()),
            other => ManageError::Store(other),
        }
    }
}

pub type Result<T> = std::result::Result<T, ManageError>;

fn invalid(message: impl Into<String>) -> ManageError {
    ManageError::Invalid(message.into())
}

fn not_found(kind: &str, name: &str) -> ManageError {
    ManageError::NotFound(format!("no {kind} '{name}'"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTenant {
    pub name: String,
    /// e.g. `fabrikam.onmicrosoft.com`.
    pub domain: String,
    /// The directory id; generated when left out.
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewApp {
    pub name: String,
    /// Application permissions, e.g. `Machine.Read.All`.
    pub roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUser {
    pub upn: String,
    pub display_name: String,
    /// Generated when left out.
    #[serde(default)]
    pub password: Option<String>,
    /// User groups to join, by name or id.
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUserGroup {
    pub display_name: String,
    /// An id of your choice, e.g. an Entra group's object id, so that tokens of a trusted
    /// issuer naming it in `groups` count as membership; generated when left out.
    #[serde(default)]
    pub id: Option<String>,
    /// Members, by UPN or object id.
    #[serde(default)]
    pub members: Vec<String>,
}

/// A role to create, or the changes to one (what is left out stays as it is).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleSpec {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Kebab-case or display names of the permission options, e.g. `view-data`.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// User groups the role is assigned to, by name or id.
    #[serde(default)]
    pub user_groups: Option<Vec<String>>,
}

/// A device group to create, or the changes to one (what is left out stays as it is), with the
/// EDMX `DeviceGroup` names.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceGroupSpec {
    #[serde(default)]
    pub device_group_name: Option<String>,
    /// The rank (1 is the highest); a new group goes last when left out.
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub automation_level: Option<AutomationLevel>,
    #[serde(default)]
    pub device_group_rules: Option<DeviceGroupRules>,
    /// User groups with access, by name or id; an empty list: every user.
    #[serde(default)]
    pub user_groups: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApp {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedUser {
    pub tenant_id: String,
    pub object_id: String,
    pub upn: String,
    pub password: String,
}

/// The management operations over one store. Changes made through it apply at once to the
/// access checks of the server it belongs to (`access`); other servers see them within
/// [`crate::access::ACCESS_TTL`].
#[derive(Clone, Copy)]
pub struct Manager<'a> {
    store: &'a dyn Store,
    access: Option<&'a AccessCache>,
}

impl<'a> Manager<'a> {
    pub fn new(store: &'a dyn Store, access: Option<&'a AccessCache>) -> Self {
        Manager { store, access }
    }

    fn changed(&self) {
        if let Some(access) = &self.access {
            access.clear();
        }
    }

    /// A tenant by id or domain, or the only one when `named` is `None`.
    pub async fn tenant(&self, named: Option<&str>) -> Result<Tenant> {
        if let Some(name) = named {
            return self.store.tenant(name).await?.ok_or_else(|| not_found("tenant", name));
        }
        let mut tenants = self.store.tenants().await?;
        match tenants.len() {
            0 => Err(invalid(
                "this data directory has no tenant yet: run `openmde serve` once to create one",
            )),
            1 => Ok(tenants.remove(0)),
            _ => Err(invalid(
                "this data directory has several tenants: choose one with --tenant",
            )),
        }
    }

    pub async fn tenants(&self) -> Result<Value> {
        let tenants = self.store.tenants().await?;
        Ok(Value::Array(tenants.iter().map(tenant_view).collect()))
    }

    pub async fn create_tenant(&self, request: NewTenant) -> Result<Value> {
        let domain = request.domain.trim().to_ascii_lowercase();
        if domain.is_empty() || !domain.contains('.') || domain.contains(['/', '@', ' ']) {
            return Err(invalid(format!(
                "'{domain}' is not a domain like fabrikam.onmicrosoft.com"
            )));
        }
        let id = match request.id {
            Some(id) => uuid::Uuid::parse_str(&id)
                .map_err(|_| invalid(format!("'{id}' is not a GUID")))?
                .to_string(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        if self.store.tenant(&domain).await?.is_some() || self.store.tenant(&id).await?.is_some() {
            return Err(ManageError::Conflict(format!(
                "tenant '{domain}' or '{id}' exists already"
            )));
        }
        let tenant = self.store.create_tenant(&id, request.name.trim(), &domain).await?;
        Ok(tenant_view(&tenant))
    }

    pub async fn apps(&self, tenant: &Tenant) -> Result<Value> {
        let mut views = Vec::new();
        for app in self.store.apps(tenant.key).await? {
            let certificates = self.store.app_certificates(&app.client_id).await?.len();
            views.push(
                json!({"clientId": app.client_id, "name": app.name, "objectId": app.object_id,
                "roles": app.roles, "certificates": certificates}),
            );
        }
        Ok(Value::Array(views))
    }

    pub async fn create_app(&self, tenant: &Tenant, request: NewApp) -> Result<CreatedApp> {
        let roles = request
            .roles
            .iter()
            .map(|role| {
                resource::application_permission(role)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        invalid(format!(
                            "unknown permission '{role}'; known: {}",
                            resource::APPLICATION_PERMISSIONS.join(", ")
                        ))
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let client_secret = secret::generate();
        let app = AppRegistration {
            client_id: uuid::Uuid::new_v4().to_string(),
            tenant: tenant.key,
            object_id: uuid::Uuid::new_v4().to_string(),
            name: request.name,
            secret_sha256: secret::sha256(&client_secret),
            roles: roles.clone(),
        };
        self.store.create_app(&app).await?;
        Ok(CreatedApp {
            tenant_id: tenant.id.clone(),
            client_id: app.client_id,
            client_secret,
            roles,
        })
    }

    /// A new secret for an application; the old one is refused at once, by every replica (each
    /// token request reads the registration), while tokens issued before stay valid until they
    /// expire, as in Entra.
    pub async fn reset_secret(&self, tenant: &Tenant, client_id: &str) -> Result<CreatedApp> {
        let app = self.store.app(client_id).await?.filter(|a| a.tenant == tenant.key);
        let Some(app) = app else {
            return Err(not_found("application", client_id));
        };
        let client_secret = secret::generate();
        if !self
            .store
            .set_app_secret(&app.client_id, secret::sha256(&client_secret))
            .await?
        {
            return Err(not_found("application", client_id));
        }
        Ok(CreatedApp {
            tenant_id: tenant.id.clone(),
            client_id: app.client_id,
            client_secret,
            roles: app.roles,
        })
    }

    pub async fn delete_app(&self, tenant: &Tenant, client_id: &str) -> Result<()> {
        let app = self.store.app(client_id).await?.filter(|a| a.tenant == tenant.key);
        if app.is_none() || !self.store.delete_app(client_id).await? {
            return Err(not_found("application", client_id));
        }
        Ok(())
    }

    pub async fn users(&self, tenant: &Tenant) -> Result<Value> {
        let groups = self.store.user_groups(tenant.key).await?;
        let users = self.store.users(tenant.key).await?;
        Ok(Value::Array(
            users
                .iter()
                .map(|user| {
                    let member_of: Vec<&str> = groups
                        .iter()
                        .filter(|g| g.members.contains(&user.object_id))
                        .map(|g| g.display_name.as_str())
                        .collect();
                    json!({"objectId": user.object_id, "upn": user.upn, "displayName": user.display_name,
                        "groups": member_of})
                })
                .collect(),
        ))
    }

    pub async fn create_user(&self, tenant: &Tenant, request: NewUser) -> Result<CreatedUser> {
        let upn = request.upn.trim();
        let well_formed = upn
            .split_once('@')
            .is_some_and(|(name, domain)| !name.is_empty() && domain.contains('.'));
        if !well_formed {
            return Err(invalid(format!(
                "'{upn}' is not a user principal name like alice@contoso.onmicrosoft.com"
            )));
        }
        let known = self.store.user_groups(tenant.key).await?;
        let group_ids = request
            .groups
            .iter()
            .map(|g| find_group(&known, g).map(|g| g.id.clone()))
            .collect::<Result<Vec<_>>>()?;
        let password = request.password.unwrap_or_else(secret::generate);
        let to_hash = password.clone();
        let password_hash = tokio::task::spawn_blocking(move || openmde_identity::password::hash(&to_hash))
            .await
            .map_err(|e| ManageError::Store(StoreError::Backend(format!("hashing failed: {e}"))))?
            .map_err(|e| invalid(e.to_string()))?;
        let user = UserRecord {
            tenant: tenant.key,
            object_id: uuid::Uuid::new_v4().to_string(),
            upn: upn.to_string(),
            display_name: request.display_name,
            password_hash,
        };
        self.store.create_user(&user).await?;
        for group_id in &group_ids {
            self.store
                .set_group_member(tenant.key, group_id, &user.object_id, true)
                .await?;
        }
        self.changed();
        Ok(CreatedUser {
            tenant_id: tenant.id.clone(),
            object_id: user.object_id,
            upn: user.upn,
            password,
        })
    }

    pub async fn delete_user(&self, tenant: &Tenant, user: &str) -> Result<()> {
        let user = self.find_user(tenant, user).await?;
        self.store.delete_user(tenant.key, &user.object_id).await?;
        self.changed();
        Ok(())
    }

    async fn find_user(&self, tenant: &Tenant, name: &str) -> Result<UserRecord> {
        let found = match self.store.user_by_upn(name).await? {
            Some(user) => Some(user),
            None => self.store.user(tenant.key, name).await?,
        };
        found
            .filter(|u| u.tenant == tenant.key)
            .ok_or_else(|| not_found("user", name))
    }

    pub async fn groups(&self, tenant: &Tenant) -> Result<Value> {
        let users = self.store.users(tenant.key).await?;
        let groups = self.store.user_groups(tenant.key).await?;
        Ok(Value::Array(
            groups
                .iter()
                .map(|group| {
                    let members: Vec<&str> = group
                        .members
                        .iter()
                        .map(|id| {
                            users
                                .iter()
                                .find(|u| u.object_id == *id)
                                .map_or(id.as_str(), |u| u.upn.as_str())
                        })
                        .collect();
                    json!({"id": group.id, "displayName": group.display_name, "members": members})
                })
                .collect(),
        ))
    }

    pub async fn create_group(&self, tenant: &Tenant, request: NewUserGroup) -> Result<Value> {
        let display_name = request.display_name.trim().to_string();
        if display_name.is_empty() {
            return Err(invalid("a user group needs a name"));
        }
        let mut members = Vec::with_capacity(request.members.len());
        for member in &request.members {
            members.push(self.find_user(tenant, member).await?.object_id);
        }
        let group = UserGroup {
            id: request
                .id
                .filter(|id| !id.trim().is_empty())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            display_name,
            members,
        };
        self.store.create_user_group(tenant.key, &group).await?;
        self.changed();
        Ok(json!({"id": group.id, "displayName": group.display_name, "members": request.members}))
    }

    pub async fn delete_group(&self, tenant: &Tenant, name: &str) -> Result<()> {
        let group = find_group(&self.store.user_groups(tenant.key).await?, name)?.clone();
        let holds_administrators = self
            .store
            .roles(tenant.key)
            .await?
            .iter()
            .any(|r| r.built_in && r.user_groups == [group.id.clone()]);
        if holds_administrators {
            return Err(invalid(format!(
                "'{}' is the only group with the administrator role; assign the role to another group first",
                group.display_name
            )));
        }
        self.store.delete_user_group(tenant.key, &group.id).await?;
        self.changed();
        Ok(())
    }

    /// Adds (`member`) or removes a user.
    pub async fn set_member(&self, tenant: &Tenant, group: &str, user: &str, member: bool) -> Result<()> {
        let group = find_group(&self.store.user_groups(tenant.key).await?, group)?.clone();
        let user = self.find_user(tenant, user).await?;
        self.store
            .set_group_member(tenant.key, &group.id, &user.object_id, member)
            .await?;
        self.changed();
        Ok(())
    }

    pub async fn roles(&self, tenant: &Tenant) -> Result<Value> {
        let groups = self.store.user_groups(tenant.key).await?;
        let roles = self.store.roles(tenant.key).await?;
        Ok(Value::Array(roles.iter().map(|r| role_view(r, &groups)).collect()))
    }

    pub async fn create_role(&self, tenant: &Tenant, spec: RoleSpec) -> Result<Value> {
        let role = Role::new(&uuid::Uuid::new_v4().to_string(), "");
        self.save_role(tenant, role, spec).await
    }

    pub async fn update_role(&self, tenant: &Tenant, name: &str, spec: RoleSpec) -> Result<Value> {
        let roles = self.store.roles(tenant.key).await?;
        let role = find_named(&roles, name, |r| (&r.id, &r.name)).ok_or_else(|| not_found("role", name))?;
        self.save_role(tenant, role.clone(), spec).await
    }

    /// The built-in role keeps its name and permissions; only its groups change.
    async fn save_role(&self, tenant: &Tenant, mut role: Role, spec: RoleSpec) -> Result<Value> {
        let groups = self.store.user_groups(tenant.key).await?;
        if let Some(names) = &spec.user_groups {
            role.user_groups = group_ids(&groups, names)?;
        }
        let changes_definition = spec.name.is_some() || spec.permissions.is_some() || spec.description.is_some();
        if role.built_in {
            if changes_definition {
                return Err(invalid(
                    "the built-in administrator role changes only in its user groups",
                ));
            }
            if role.user_groups.is_empty() {
                return Err(invalid("the administrator role must stay assigned to a group"));
            }
        } else {
            if let Some(name) = spec.name {
                role.name = name.trim().to_string();
            }
            if spec.description.is_some() {
                role.description = spec.description;
            }
            if let Some(permissions) = &spec.permissions {
                role.permissions = permissions
                    .iter()
                    .map(|p| RolePermission::parse(p).map_err(invalid))
                    .collect::<Result<_>>()?;
            }
            if role.name.is_empty() {
                return Err(invalid("a role needs a name"));
            }
            if role.permissions.contains(&RolePermission::ManagePortalSettings) {
                return Err(invalid(
                    "'Manage portal system settings' belongs to the built-in administrator role only",
                ));
            }
            if role.permissions.is_empty() {
                return Err(invalid("a role needs at least one permission, e.g. view-data"));
            }
        }
        self.store.put_role(tenant.key, &role).await?;
        self.changed();
        Ok(role_view(&role, &groups))
    }

    pub async fn delete_role(&self, tenant: &Tenant, name: &str) -> Result<()> {
        let roles = self.store.roles(tenant.key).await?;
        let role = find_named(&roles, name, |r| (&r.id, &r.name)).ok_or_else(|| not_found("role", name))?;
        if role.built_in {
            return Err(invalid("the built-in administrator role cannot be deleted"));
        }
        self.store.delete_role(tenant.key, &role.id).await?;
        self.changed();
        Ok(())
    }

    pub async fn device_groups(&self, tenant: &Tenant) -> Result<Value> {
        let users = self.store.user_groups(tenant.key).await?;
        let groups = self.store.device_groups(tenant.key).await?;
        Ok(Value::Array(
            groups.iter().map(|g| device_group_view(g, &users)).collect(),
        ))
    }

    pub async fn create_device_group(&self, tenant: &Tenant, spec: DeviceGroupSpec) -> Result<Value> {
        // Any id but the Ungrouped group's: the store gives the new group its own.
        let new = DeviceGroup::new(-1, i64::MAX, "");
        let group = self.device_group(tenant, new, spec).await?;
        let saved = self.store.create_device_group(tenant.key, &group).await?;
        self.changed();
        self.device_group_answer(tenant, saved.id).await
    }

    pub async fn update_device_group(&self, tenant: &Tenant, name: &str, spec: DeviceGroupSpec) -> Result<Value> {
        let current = self.find_device_group(tenant, name).await?;
        let group = self.device_group(tenant, current, spec).await?;
        self.store
            .update_device_group(tenant.key, &group)
            .await?
            .ok_or_else(|| not_found("device group", name))?;
        self.changed();
        self.device_group_answer(tenant, group.id).await
    }

    pub async fn delete_device_group(&self, tenant: &Tenant, name: &str) -> Result<()> {
        let group = self.find_device_group(tenant, name).await?;
        if group.is_ungrouped() {
            return Err(invalid("the Ungrouped devices group cannot be deleted"));
        }
        self.store.delete_device_group(tenant.key, group.id).await?;
        self.changed();
        Ok(())
    }

    async fn find_device_group(&self, tenant: &Tenant, name: &str) -> Result<DeviceGroup> {
        let groups = self.store.device_groups(tenant.key).await?;
        let id = |r: &DeviceGroupRecord| r.group.id.to_string();
        groups
            .into_iter()
            .find(|r| id(r) == name || r.group.name.eq_ignore_ascii_case(name))
            .map(|r| r.group)
            .ok_or_else(|| not_found("device group", name))
    }

    /// `current` changed as `spec` says; the Ungrouped group keeps its name and rank, and has no rules.
    async fn device_group(&self, tenant: &Tenant, current: DeviceGroup, spec: DeviceGroupSpec) -> Result<DeviceGroup> {
        let users = self.store.user_groups(tenant.key).await?;
        let mut group = DeviceGroup {
            description: spec.description.or(current.description.clone()),
            automation_level: spec.automation_level.unwrap_or(current.automation_level),
            user_groups: match &spec.user_groups {
                Some(names) => group_ids(&users, names)?,
                None => current.user_groups.clone(),
            },
            ..current
        };
        if group.is_ungrouped() {
            if spec.device_group_rules.is_some() || spec.device_group_name.is_some() || spec.priority.is_some() {
                return Err(invalid(
                    "the Ungrouped devices group keeps its name, its rank (last) and has no rules",
                ));
            }
            return Ok(group);
        }
        if let Some(name) = spec.device_group_name {
            group.name = name.trim().to_string();
        }
        if group.name.is_empty() {
            return Err(invalid("a device group needs a name (deviceGroupName)"));
        }
        if group.name.eq_ignore_ascii_case(openmde_access::UNGROUPED_NAME) {
            return Err(ManageError::Conflict(format!(
                "'{}' is the default group's name",
                group.name
            )));
        }
        if let Some(rules) = spec.device_group_rules {
            group.rules = rules;
        }
        group.rules.validate().map_err(|e| invalid(e.to_string()))?;
        if let Some(priority) = spec.priority {
            if priority < 1 {
                return Err(invalid("priority is a rank from 1 (the highest)"));
            }
            group.priority = priority;
        }
        Ok(group)
    }

    async fn device_group_answer(&self, tenant: &Tenant, id: i64) -> Result<Value> {
        let users = self.store.user_groups(tenant.key).await?;
        let groups = self.store.device_groups(tenant.key).await?;
        groups
            .iter()
            .find(|g| g.group.id == id)
            .map(|g| device_group_view(g, &users))
            .ok_or_else(|| not_found("device group", &id.to_string()))
    }
}

/// An item of `items` whose id is `name` or whose name is `name` (ignoring case).
fn find_named<'a, T>(items: &'a [T], name: &str, keys: impl Fn(&T) -> (&String, &String)) -> Option<&'a T> {
    items.iter().find(|item| {
        let (id, item_name) = keys(item);
        id == name || item_name.eq_ignore_ascii_case(name)
    })
}

fn find_group<'a>(groups: &'a [UserGroup], name: &str) -> Result<&'a UserGroup> {
    find_named(groups, name, |g| (&g.id, &g.display_name)).ok_or_else(|| not_found("user group", name))
}

fn group_ids(groups: &[UserGroup], names: &[String]) -> Result<Vec<String>> {
    let mut ids: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let id = &find_group(groups, name)?.id;
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    Ok(ids)
}

fn tenant_view(tenant: &Tenant) -> Value {
    json!({"id": tenant.id, "name": tenant.name, "domain": tenant.domain})
}

/// `[{displayName, id}]`: EDMX `AadUsersGroup`.
fn user_groups_view(ids: &[String], groups: &[UserGroup]) -> Vec<Value> {
    ids.iter()
        .map(|id| {
            let name = groups.iter().find(|g| g.id == *id).map(|g| g.display_name.as_str());
            json!({"displayName": name, "id": id})
        })
        .collect()
}

fn role_view(role: &Role, groups: &[UserGroup]) -> Value {
    let permissions: Vec<&str> = role.permissions.iter().map(|p| p.name()).collect();
    json!({"id": role.id, "name": role.name, "description": role.description, "builtIn": role.built_in,
        "permissions": permissions, "userGroups": user_groups_view(&role.user_groups, groups)})
}

/// EDMX `DeviceGroup`, in its property order.
fn device_group_view(record: &DeviceGroupRecord, users: &[UserGroup]) -> Value {
    let group = &record.group;
    json!({"id": group.id, "priority": group.priority, "deviceGroupName": group.name,
        "isUnassignedDeviceGroup": group.is_ungrouped(), "automationLevel": group.automation_level,
        "description": group.description, "deviceCount": record.device_count,
        "lastUpdateTime": record.last_update.to_string(),
        "aadUsersGroups": user_groups_view(&group.user_groups, users), "deviceGroupRules": group.rules})
}

/// For the CLI: the key a user reads first in each kind of answer.
pub fn summary_line(item: &Value) -> String {
    let text = |key: &str| item.get(key).and_then(Value::as_str).map(str::to_string);
    let list = |key: &str| {
        item.get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .or_else(|| v.get("displayName").and_then(Value::as_str).map(str::to_string))
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    if let Some(name) = text("deviceGroupName") {
        return format!(
            "{:>3}  {name}  (id {}, {} devices; user groups: {})",
            item["priority"],
            item["id"],
            item["deviceCount"],
            match list("aadUsersGroups") {
                none if none.is_empty() => "all users".to_string(),
                some => some,
            }
        );
    }
    if item.get("permissions").is_some() {
        return format!(
            "{}  (id {}): {}; user groups: {}",
            text("name").unwrap_or_default(),
            text("id").unwrap_or_default(),
            list("permissions"),
            list("userGroups")
        );
    }
    if let Some(upn) = text("upn") {
        return format!(
            "{upn}  {}  (object id {}; groups: {})",
            text("displayName").unwrap_or_default(),
            text("objectId").unwrap_or_default(),
            list("groups")
        );
    }
    if let Some(client_id) = text("clientId") {
        return format!("{client_id}  {}: {}", text("name").unwrap_or_default(), list("roles"));
    }
    if item.get("members").is_some() {
        return format!(
            "{}  (id {}): {}",
            text("displayName").unwrap_or_default(),
            text("id").unwrap_or_default(),
            list("members")
        );
    }
    format!(
        "{}  {}  ({})",
        text("domain").unwrap_or_default(),
        text("name").unwrap_or_default(),
        text("id").unwrap_or_default()
    )
}

/// Parses a rule given on the command line: `PROPERTY OPERATOR VALUE`, e.g. `name startswith web`,
/// `domain equals corp.contoso.com`, `tag contains vip`, `os in Linux,WindowsServer2019`.
pub fn add_rule(rules: &mut DeviceGroupRules, text: &str) -> Result<()> {
    use openmde_access::{ListCondition, Operator, PropertyCondition};
    let mut parts = text.trim().splitn(3, char::is_whitespace);
    let (Some(property), Some(operator), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(format!(
            "rule '{text}': expected PROPERTY OPERATOR VALUE, e.g. 'tag equals VIP'"
        )));
    };
    let operator = match operator.to_ascii_lowercase().as_str() {
        "startswith" => Operator::StartsWith,
        "endswith" => Operator::EndsWith,
        "equals" | "eq" => Operator::Equals,
        "contains" => Operator::Contains,
        "in" => Operator::In,
        other => {
            return Err(invalid(format!(
                "rule '{text}': unknown operator '{other}' (startswith, endswith, equals, contains, in)"
            )));
        }
    };
    let condition = PropertyCondition {
        condition: operator,
        value: value.trim().to_string(),
    };
    match property.to_ascii_lowercase().as_str() {
        "name" => rules.names.push(condition),
        "domain" => rules.domains.push(condition),
        "tag" => rules.tags.push(condition),
        "os" => rules.os.push(ListCondition {
            condition: operator,
            values_list: value.split(',').map(|v| v.trim().to_string()).collect(),
        }),
        other => {
            return Err(invalid(format!(
                "rule '{text}': unknown property '{other}' (name, domain, tag, os)"
            )));
        }
    }
    Ok(())
}
