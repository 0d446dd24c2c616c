//! Command-line interface. Every option of `serve` can also come from an `OPENMDE_*`
//! environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "openmde",
    version,
    about = "A self-hosted Microsoft Defender for Endpoint API"
)]
pub struct Cli {
    /// Where the database, TLS material and credentials live.
    #[arg(long, global = true, env = "OPENMDE_DATA_DIR", default_value = "openmde-data")]
    pub data_dir: PathBuf,
    /// The store: `postgres://user:password@host:port/database` for PostgreSQL (several
    /// replicas), or `sqlite://path`; default: the SQLite file in the data directory.
    #[arg(long, global = true, env = "OPENMDE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Connections each process keeps to PostgreSQL at most.
    #[arg(long, global = true, env = "OPENMDE_DATABASE_POOL_SIZE", default_value_t = openmde_store::postgres::DEFAULT_POOL_SIZE)]
    pub database_pool_size: usize,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the MDE API and the token issuer.
    Serve(ServeArgs),
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// Manage application registrations.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Manage users (who sign in with a password and get delegated tokens).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage user groups, which roles and device groups are assigned to.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Manage MDE roles: permission options assigned to user groups.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Manage device groups: ranked rules that put each machine into one group.
    #[command(subcommand, name = "device-groups")]
    DeviceGroups(DeviceGroupsCommand),
    /// Manage the token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Load machines and alerts from MDE JSON files (list responses, arrays or single entities).
    Import(ImportArgs),
    /// Bring the store's schema up to date (every command does this on its own as well).
    Migrate,
    /// Copy a whole store into an empty one (e.g. SQLite to PostgreSQL), then compare counts.
    Copy {
        /// The store to read: postgres://... or sqlite://path.
        #[arg(long)]
        from: String,
        /// The empty store to write: postgres://... or sqlite://path.
        #[arg(long)]
        to: String,
    },
    /// Write a demo fleet of any size as MDE JSON files, ready for `openmde import`.
    Generate(GenerateArgs),
    /// Print how to run openmde in place of Microsoft's hosts (hosts file, CA, port 443).
    Trust {
        /// Also add the local CA to the system trust store (Debian/Ubuntu, RHEL/Fedora; as root).
        #[arg(long)]
        install: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FailModeArg {
    Closed,
    Open,
}

impl From<FailModeArg> for openmde_ratelimit::FailMode {
    fn from(mode: FailModeArg) -> Self {
        match mode {
            FailModeArg::Closed => openmde_ratelimit::FailMode::Closed,
            FailModeArg::Open => openmde_ratelimit::FailMode::Open,
        }
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// HTTPS address.
    #[arg(long, env = "OPENMDE_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Also serve plain HTTP here (clients such as msal refuse http authorities).
    #[arg(long, env = "OPENMDE_HTTP_LISTEN")]
    pub http_listen: Option<SocketAddr>,
    /// Extra DNS name or IP for the generated server certificate (repeatable).
    #[arg(long = "tls-name", env = "OPENMDE_TLS_NAMES", value_delimiter = ',')]
    pub tls_names: Vec<String>,
    /// Your own certificate chain (PEM) instead of the local CA's.
    #[arg(long, env = "OPENMDE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "OPENMDE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Alerts last updated longer ago than this are not found.
    #[arg(long, env = "OPENMDE_RETENTION_DAYS", default_value_t = 180, value_parser = clap::value_parser!(i64).range(1..=36500))]
    pub retention_days: i64,
    /// On first start, create the tenant and application but no demo fleet.
    #[arg(long, env = "OPENMDE_NO_DEMO")]
    pub no_demo: bool,
    /// Turn rate limiting off (for load tests).
    #[arg(long, env = "OPENMDE_NO_RATE_LIMITS")]
    pub no_rate_limits: bool,
    /// Override one API's limits, e.g. `alerts.machine=100/min,1500/h` (repeatable).
    #[arg(long = "rate-limit", env = "OPENMDE_RATE_LIMITS", value_delimiter = ';')]
    pub rate_limits: Vec<String>,
    /// A JSON file naming an external issuer (a real Entra tenant, Keycloak) whose tokens the
    /// API accepts: `{"issuer", "jwks" (URL or file), "audiences", "tenant"}` (repeatable).
    #[arg(long = "trust-issuer", env = "OPENMDE_TRUSTED_ISSUERS", value_delimiter = ';')]
    pub trusted_issuers: Vec<PathBuf>,
    /// Share rate-limit counters with other replicas in Redis, e.g. redis://127.0.0.1:6379/0.
    #[arg(long, env = "OPENMDE_REDIS_URL")]
    pub redis_url: Option<String>,
    /// When Redis does not answer: `closed` refuses calls with 503 and Retry-After, `open` lets
    /// them through uncounted. Either way it is logged and counted in /metrics.
    #[arg(long, env = "OPENMDE_RATE_LIMIT_FAIL_MODE", value_enum, default_value_t = FailModeArg::Closed)]
    pub rate_limit_fail_mode: FailModeArg,
    /// The admin API's address (plain HTTP; keep it on loopback).
    #[arg(long, env = "OPENMDE_ADMIN_LISTEN", default_value = "127.0.0.1:8444")]
    pub admin_listen: SocketAddr,
    /// Serve no admin API.
    #[arg(long, env = "OPENMDE_NO_ADMIN")]
    pub no_admin: bool,
    /// The admin API's key (default: the data directory's admin-key file, created if missing).
    #[arg(long, env = "OPENMDE_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Seconds a new signing key (`openmde keys rotate`) is published before it signs.
    #[arg(long, env = "OPENMDE_KEY_ACTIVATION_DELAY", default_value_t = 3600, value_parser = clap::value_parser!(i64).range(0..=31_536_000))]
    pub key_activation_delay: i64,
}

/// Options every management command takes.
#[derive(Debug, Clone, Args)]
pub struct CommonOptions {
    /// Tenant id or domain (default: the only tenant).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Print JSON (the admin API's answer) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    List(CommonOptions),
    /// Add a tenant, with its administrators group, built-in role and Ungrouped device group.
    Create {
        #[arg(long)]
        name: String,
        /// e.g. fabrikam.onmicrosoft.com.
        #[arg(long)]
        domain: String,
        /// The directory id (a GUID); generated when left out.
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        scope: CommonOptions,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; prints the password (a generated one unless --password is given).
    Create(CreateUserArgs),
    List(CommonOptions),
    /// Remove a user (by UPN or object id) and their group memberships.
    Delete {
        user: String,
        #[command(flatten)]
        scope: CommonOptions,
    },
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// User principal name, e.g. alice@contoso.onmicrosoft.com.
    #[arg(long)]
    pub upn: String,
    /// Display name (the `name` claim).
    #[arg(long)]
    pub name: String,
    /// The password; generated when left out. Visible to other local users in the process
    /// list: prefer OPENMDE_USER_PASSWORD.
    #[arg(long, env = "OPENMDE_USER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// A user group to join, by name or id (repeatable); `MDE administrators` holds the
    /// built-in administrator role. Without a group with a role, API calls are refused (403).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    #[command(flatten)]
    pub scope: CommonOptions,
}

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    List(CommonOptions),
    Create {
        #[arg(long)]
        name: String,
        /// An id of your choice, e.g. the object id of an Entra group, whose members' tokens
        /// (from a trusted issuer, `groups` claim) then count as members.
        #[arg(long)]
        id: Option<String>,
        /// A member, by UPN or object id (repeatable).
        #[arg(long = "member")]
        members: Vec<String>,
        #[command(flatten)]
        scope: CommonOptions,
    },
    /// Remove a group (by name or id) and its assignments.
    Delete {
        group: String,
        #[command(flatten)]
        scope: CommonOptions,
    },
    AddMember {
        group: String,
        user: String,
        #[command(flatten)]
        scope: CommonOptions,
    },
    RemoveMember {
        group: String,
        user: String,
        #[command(flatten)]
        scope: CommonOptions,
    },
}

#[derive(Debug, Args)]
pub struct RoleArgs {
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// A permission option (repeatable): view-data, alerts-investigation, active-remediation,
    /// manage-security-settings, security-baselines, live-response-basic, live-response-advanced.
    #[arg(long = "permission")]
    pub permissions: Vec<String>,
    /// A user group the role is assigned to, by name or id (repeatable).
    #[arg(long = "group")]
    pub groups: Vec<String>,
    #[command(flatten)]
    pub scope: CommonOptions,
}

#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    List(CommonOptions),
    Create(RoleArgs),
    /// Change a role (by name or id): the options given replace the role's.
    Update {
        role: String,
        #[command(flatten)]
        changes: RoleArgs,
    },
    Delete {
        role: String,
        #[command(flatten)]
        scope: CommonOptions,
    },
}

#[derive(Debug, Args)]
pub struct DeviceGroupArgs {
    #[arg(long)]
    pub name: Option<String>,
    /// Rank: 1 is the highest; a machine joins the highest-ranked group it matches.
    #[arg(long)]
    pub rank: Option<i64>,
    #[arg(long)]
    pub description: Option<String>,
    /// Remediation level, e.g. FullRemediateThreatsAutomatically, NoAutomatedResponse.
    #[arg(long)]
    pub automation_level: Option<String>,
    /// A condition `PROPERTY OPERATOR VALUE` (repeatable): `name startswith web`,
    /// `domain equals corp.contoso.com`, `tag contains VIP`, `os in Linux,WindowsServer2019`.
    /// Conditions on one property are OR'ed, the properties AND'ed.
    #[arg(long = "rule")]
    pub rules: Vec<String>,
    /// A user group with access, by name or id (repeatable); none: every user.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Open the group to every user again (update).
    #[arg(long, conflicts_with = "groups")]
    pub all_users: bool,
    #[command(flatten)]
    pub scope: CommonOptions,
}

#[derive(Debug, Subcommand)]
pub enum DeviceGroupsCommand {
    List(CommonOptions),
    Create(DeviceGroupArgs),
    /// Change a device group (by name or id): the options given replace the group's.
    Update {
        group: String,
        #[command(flatten)]
        changes: DeviceGroupArgs,
    },
    /// Remove a device group; its machines move to the next group they match.
    Delete {
        group: String,
        #[command(flatten)]
        scope: CommonOptions,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a signing key: published at once (running servers see it within 10 s), signing
    /// once it is older than the servers' --key-activation-delay.
    Rotate {
        /// Print `{"kid","created"}`.
        #[arg(long)]
        json: bool,
    },
    /// List the signing keys, oldest first.
    List {
        /// Print a JSON array of `{"kid","created"}`.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppsCommand {
    /// Register an application with application permissions; prints its credentials.
    Create(CreateAppArgs),
    List(CommonOptions),
    /// Give an application a new secret (printed); the old one stops working at once.
    ResetSecret {
        client_id: String,
        #[command(flatten)]
        scope: CommonOptions,
    },
    /// Remove an application and its certificates.
    Delete {
        client_id: String,
        #[command(flatten)]
        scope: CommonOptions,
    },
    /// Let an application authenticate with a certificate (client assertions signed by its key).
    AddCertificate {
        #[arg(long)]
        client_id: String,
        /// The certificate, PEM (the first CERTIFICATE block is taken).
        #[arg(long)]
        cert: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct CreateAppArgs {
    #[arg(long)]
    pub name: String,
    /// Application permission, e.g. Machine.Read.All (repeatable).
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    #[command(flatten)]
    pub scope: CommonOptions,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Tenant id or domain (default: the only tenant).
    #[arg(long)]
    pub tenant: Option<String>,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[arg(long, default_value_t = 50)]
    pub machines: u64,
    #[arg(long, default_value_t = 200)]
    pub alerts: u64,
    /// Directory for machines.json, alerts.json and alert-ids.txt.
    #[arg(long)]
    pub out: PathBuf,
    /// Written into each alert's aadTenantId.
    #[arg(long, default_value = "00000000-0000-0000-0000-000000000000")]
    pub tenant_id: String,
}
