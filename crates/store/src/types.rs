use openmde_model::Timestamp;

/// A tenant's internal key: small, and what every tenant-owned row carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TenantKey(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub key: TenantKey,
    /// The directory (tenant) id, a GUID, as in the `tid` claim.
    pub id: String,
    pub name: String,
    /// The tenant's domain, e.g. `contoso.onmicrosoft.com`.
    pub domain: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRegistration {
    pub client_id: String,
    pub tenant: TenantKey,
    /// The service principal's object id: `oid` and `sub` of its tokens.
    pub object_id: String,
    pub name: String,
    pub secret_sha256: [u8; 32],
    /// Application permissions granted (the `roles` claim).
    pub roles: Vec<String>,
}

/// A user who signs in with a password.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub tenant: TenantKey,
    /// The user's object id: `oid` of their tokens.
    pub object_id: String,
    /// The user principal name (`alice@contoso.onmicrosoft.com`), unique, matched without case.
    pub upn: String,
    pub display_name: String,
    /// An argon2id PHC string.
    pub password_hash: String,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("object_id", &self.object_id)
            .field("upn", &self.upn)
            .finish_non_exhaustive()
    }
}

/// A device authorization of the device code flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCode {
    pub device_code: String,
    /// What the user types at the verification page.
    pub user_code: String,
    pub tenant: TenantKey,
    pub client_id: String,
    /// The scope asked for, kept for the polls (which send none).
    pub scope: String,
    pub expires: Timestamp,
    /// The user who approved it, once one has.
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub private_key_pem: String,
    pub certificate_der: Vec<u8>,
    pub created: Timestamp,
}

/// What `GET /api/alerts/{id}/machine` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertMachine {
    AlertNotFound,
    AlertHasNoMachine,
    MachineNotFound {
        machine_id: String,
    },
    /// The machine's canonical JSON document.
    Found(String),
}

impl AlertMachine {
    /// What a lookup of an alert (if found: its machine id, and that machine's document if
    /// stored) means.
    pub(crate) fn from_lookup(found: Option<(Option<String>, Option<String>)>) -> Self {
        match found {
            None => AlertMachine::AlertNotFound,
            Some((None, _)) => AlertMachine::AlertHasNoMachine,
            Some((Some(machine_id), None)) => AlertMachine::MachineNotFound { machine_id },
            Some((Some(_), Some(doc))) => AlertMachine::Found(doc),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub machines: u64,
    pub alerts: u64,
}

/// An alert as stored: the canonical document (with `"evidence": []`) and the evidence array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDocument {
    pub doc: String,
    pub evidence: String,
}

/// What an update of several entities did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Updated<T> {
    /// Every entity, as it is now, in the order asked.
    All(Vec<T>),
    /// The entity with this id was not found, and nothing was changed.
    NotFound(String),
}

/// What `CreateAlertByReference` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlertByReference {
    Created(AlertDocument),
    /// An open alert with the same title on the machine took the new one in.
    Merged(AlertDocument),
    MachineNotFound,
}

/// A device group as stored, with what the store knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceGroupRecord {
    pub group: openmde_access::DeviceGroup,
    /// Machines in the group now.
    pub device_count: u64,
    pub last_update: Timestamp,
}
