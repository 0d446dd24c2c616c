use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openmde::bootstrap::{Credentials, DataDir};
use openmde::manage::{CreatedApp, Manager, NewApp, NewUser};
use openmde::serve::{self, RunningServer, ServeOptions};
use openmde::state::RateLimits;
use openmde_identity::token::AccessClaims;
use openmde_identity::{KeySource, Keyring};
use openmde_store::{Store, Tenant};
use serde_json::Value;

/// The admin API key of test servers.
pub const ADMIN_KEY: &str = "test-admin-key";

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub https: SocketAddr,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    pub credentials: Credentials,
    pub client: reqwest::Client,
    server: Option<RunningServer>,
}

/// The PostgreSQL server of tests that need one (`OPENMDE_TEST_DATABASE_URL`).
pub fn test_database() -> Option<String> {
    std::env::var("OPENMDE_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The PostgreSQL server test servers keep their stores in, when `OPENMDE_TEST_BACKEND` is
/// `postgres`; otherwise each uses the SQLite file of its data directory. `scripts/test` runs
/// the suite once each way.
fn backend_database() -> Option<String> {
    let postgres = std::env::var("OPENMDE_TEST_BACKEND").is_ok_and(|b| b == "postgres");
    if postgres {
        Some(test_database().expect("OPENMDE_TEST_BACKEND=postgres needs OPENMDE_TEST_DATABASE_URL"))
    } else {
        None
    }
}

/// The schema a data directory's store lives in on the test PostgreSQL server.
fn schema_of(dir: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hasher);
    format!("t_{:016x}", hasher.finish())
}

/// The store URL of a data directory: its own schema on the test PostgreSQL server, or `None`
/// (the SQLite file in the directory).
pub fn database_url(dir: &std::path::Path) -> Option<String> {
    backend_database().map(|url| openmde_store::postgres::schema_url(&url, &schema_of(dir)))
}

/// `--database-url` for a command run on a data directory's store, if it is not the default.
pub fn database_args(dir: &std::path::Path) -> Vec<String> {
    database_url(dir)
        .map(|url| vec!["--database-url".to_string(), url])
        .unwrap_or_default()
}

/// [`options`] for a data directory whose store may not exist yet (its schema is created).
pub async fn new_store_options(dir: &std::path::Path) -> ServeOptions {
    if let Some(url) = backend_database() {
        openmde_store::postgres::with_schema(&url, &schema_of(dir))
            .await
            .unwrap();
    }
    options(dir)
}

/// Options of a server on `dir`'s store, which exists already.
pub fn options(dir: &std::path::Path) -> ServeOptions {
    ServeOptions {
        data_dir: DataDir::new(dir).with_database(database_url(dir), 4),
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: Some("127.0.0.1:0".parse().unwrap()),
        tls_names: vec![],
        tls_cert: None,
        retention_days: 180,
        demo: true,
        rate_limits: RateLimits::off(),
        key_activation_delay_seconds: 3600,
        key_reload_interval: serve::KEY_RELOAD_INTERVAL,
        trusted_issuers: Vec::new(),
        admin_listen: Some("127.0.0.1:0".parse().unwrap()),
        admin_key: Some(ADMIN_KEY.into()),
        redis_url: None,
        rate_limit_fail_mode: openmde_ratelimit::FailMode::Closed,
    }
}

impl TestServer {
    /// A server on a fresh data directory with the demo fleet and no rate limits.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut ServeOptions)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, configure).await
    }

    pub async fn start_in(dir: tempfile::TempDir, configure: impl FnOnce(&mut ServeOptions)) -> Self {
        let mut options = new_store_options(dir.path()).await;
        configure(&mut options);
        let server = serve::start(options).await.unwrap();
        let credentials = Credentials::read(&dir.path().join("credentials.json")).unwrap();
        // With a certificate of the user's own there is no local CA to trust.
        let client = match std::fs::read(dir.path().join("tls/ca.pem")) {
            Ok(ca) => client_trusting(&ca, &[]),
            Err(_) => reqwest::Client::new(),
        };
        TestServer {
            https: server.https_addr,
            http: server.http_addr.unwrap(),
            admin: server.admin_addr.unwrap(),
            credentials,
            client,
            dir,
            server: Some(server),
        }
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        self.dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.https)
    }

    pub fn tenant(&self) -> &str {
        &self.credentials.tenant_id
    }

    pub fn sample_alert(&self) -> &str {
        self.credentials.sample_alert_id.as_deref().unwrap()
    }

    /// The server's own store.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.server.as_ref().unwrap().store)
    }

    /// The keys the server signs with.
    pub async fn keyring(&self) -> Arc<Keyring> {
        KeySource::load(self.store(), 3600).await.unwrap().current()
    }

    /// A v2 client-credentials token for the demo application.
    pub async fn token(&self) -> String {
        let c = &self.credentials;
        self.token_for(&c.client_id, &c.client_secret).await
    }

    pub async fn token_for(&self, client_id: &str, secret: &str) -> String {
        self.token_in(self.tenant(), client_id, secret).await
    }

    /// A delegated token of a user (password grant) with every delegated permission.
    pub async fn user_token(&self, upn: &str, password: &str) -> String {
        let response = self
            .client
            .post(self.url(&format!("/{}/oauth2/v2.0/token", self.tenant())))
            .form(&[
                ("grant_type", "password"),
                ("client_id", self.credentials.client_id.as_str()),
                ("username", upn),
                ("password", password),
                ("scope", "https://api.securitycenter.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "password grant for {upn}");
        response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A call of the admin API with the test key: its status and JSON body (null if none).
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.admin_with_key(method, path, body, Some(ADMIN_KEY)).await
    }

    pub async fn admin_with_key(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("http://{}{path}", self.admin));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A v2 client-credentials token from the token endpoint of `tenant`.
    pub async fn token_in(&self, tenant: &str, client_id: &str, secret: &str) -> String {
        let response = self
            .client
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
                ("scope", "https://api.securitycenter.microsoft.com/.default"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Registers an application with `roles` in the demo tenant and returns a token for it.
    pub async fn app_token(&self, roles: &[&str]) -> String {
        let store = self.store();
        let tenant = store.tenant(self.tenant()).await.unwrap().unwrap();
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        let app = create_app(store.as_ref(), &tenant, "test app", roles).await;
        self.token_for(&app.client_id, &app.client_secret).await
    }

    /// A token of an application with `roles` in a second tenant, Fabrikam.
    pub async fn other_tenant_token(&self, roles: &[&str]) -> String {
        let store = self.store();
        let other = store
            .create_tenant(
                "44444444-5555-6666-7777-888888888888",
                "Fabrikam",
                "fabrikam.onmicrosoft.com",
            )
            .await
            .unwrap();
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        let app = create_app(store.as_ref(), &other, "fabrikam", roles).await;
        self.token_in(&other.id, &app.client_id, &app.client_secret).await
    }

    /// `@odata.context` as this server writes it for `fragment`.
    pub fn context(&self, fragment: &str) -> String {
        format!("https://{}/api/$metadata#{fragment}", self.https)
    }

    /// Imports MDE JSON `values` of one kind into the demo tenant.
    pub async fn import(&self, kind: openmde_model::EntityKind, values: Vec<Value>) {
        let store = self.store();
        let tenant = store.tenant(self.tenant()).await.unwrap().unwrap();
        let mut import = store.begin_import(tenant.key).await.unwrap();
        let records = values
            .into_iter()
            .map(|v| {
                openmde_model::Record::new(kind, v.as_object().unwrap().clone())
                    .unwrap()
                    .into()
            })
            .collect();
        import.upsert(records).await.unwrap();
        import.commit().await.unwrap();
    }

    /// The JSON body of `GET path` with `token`.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str, token: &str) -> T {
        self.get(path, Some(token)).await.json().await.unwrap()
    }

    /// The status of `GET /api/alerts/{alert}/machine` with `token`.
    pub async fn machine_status(&self, alert: &str, token: &str) -> u16 {
        self.get(&format!("/api/alerts/{alert}/machine"), Some(token))
            .await
            .status()
            .as_u16()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

pub async fn create_app(store: &dyn Store, tenant: &Tenant, name: &str, roles: Vec<String>) -> CreatedApp {
    let request = NewApp {
        name: name.into(),
        roles,
    };
    Manager::new(store, None).create_app(tenant, request).await.unwrap()
}

/// Adds a user named `name` with `password`, a member of `groups`.
pub async fn create_user(
    store: &dyn Store,
    tenant: &Tenant,
    (upn, name, password): (&str, &str, &str),
    groups: &[&str],
) {
    let request = NewUser {
        upn: upn.into(),
        display_name: name.into(),
        password: Some(password.into()),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    };
    Manager::new(store, None).create_user(tenant, request).await.unwrap();
}

/// Every single-entity read about an alert and its machine.
pub fn reads_of(alert: &str, machine: &str) -> Vec<String> {
    vec![
        format!("/api/alerts/{alert}"),
        format!("/api/alerts/{alert}/machine"),
        format!("/api/alerts/{alert}/user"),
        format!("/api/alerts/{alert}/files"),
        format!("/api/alerts/{alert}/ips"),
        format!("/api/alerts/{alert}/domains"),
        format!("/api/machines/{machine}"),
        format!("/api/machines/{machine}/alerts"),
        format!("/api/machines/{machine}/alerts/$count"),
        format!("/api/machines/{machine}/logonusers"),
    ]
}

pub fn client_trusting(ca_pem: &[u8], resolve: &[(&str, SocketAddr)]) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().tls_certs_only([reqwest::Certificate::from_pem(ca_pem).unwrap()]);
    for (name, address) in resolve {
        builder = builder.resolve(name, *address);
    }
    builder.build().unwrap()
}

/// The claims of a JWT, without checking it.
pub fn claims(token: &str) -> AccessClaims {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

pub fn header(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

/// Asserts MDE's error envelope and returns its message.
pub async fn assert_mde_error(response: reqwest::Response, status: u16, code: &str) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let error = body["error"].as_object().unwrap();
    assert_eq!(
        error.keys().collect::<Vec<_>>(),
        ["code", "message", "target"],
        "{body}"
    );
    assert_eq!(error["code"], code, "{body}");
    let target = error["target"].as_str().unwrap();
    assert!(uuid_like(target), "target {target} is not a GUID");
    error["message"].as_str().unwrap().to_string()
}

pub fn uuid_like(text: &str) -> bool {
    let lengths: Vec<usize> = text.split('-').map(str::len).collect();
    lengths == [8, 4, 4, 4, 12] && text.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
