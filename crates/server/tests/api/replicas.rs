//! Several replicas: rate-limit counters shared in Redis, and the health endpoints.

use openmde::state::RateLimits;
use openmde_ratelimit::FailMode;
use serde_json::Value;

use crate::helpers::{TestServer, assert_mde_error};

/// The Redis the tests use; unset, these tests are skipped (CI always sets it).
fn redis_url() -> Option<String> {
    let url = std::env::var("OPENMDE_TEST_REDIS_URL").ok();
    if url.is_none() {
        eprintln!("OPENMDE_TEST_REDIS_URL is not set: skipping a Redis test");
    }
    url
}

/// Waits until at least `seconds` remain in the current minute, so that a burst of calls
/// stays inside one window.
async fn not_near_a_minute_boundary(seconds: u64) {
    let now = openmde::state::now_unix() as u64;
    if now % 60 > 60 - seconds {
        tokio::time::sleep(std::time::Duration::from_secs(60 - now % 60 + 1)).await;
    }
}

#[tokio::test]
async fn two_replicas_on_one_redis_let_exactly_100_calls_of_an_application_through() {
    let Some(url) = redis_url() else { return };
    let shared = |o: &mut openmde::serve::ServeOptions| {
        o.rate_limits = RateLimits::default();
        o.redis_url = Some(url.clone());
    };
    let first = TestServer::start_with(shared).await;
    // The second replica serves the same store.
    let mut options = crate::helpers::options(first.dir.path());
    shared(&mut options);
    let second = openmde::serve::start(options).await.unwrap();
    let second_url = format!("http://{}", second.http_addr.unwrap());

    let token = first.token().await;
    let path = format!("/api/alerts/{}/machine", first.sample_alert());
    not_near_a_minute_boundary(10).await;
    let (mut allowed, mut limited) = (0, 0);
    for call in 0..150 {
        let url = match call % 2 {
            0 => first.url(&path),
            _ => format!("{second_url}{path}"),
        };
        let response = first.client.get(url).bearer_auth(&token).send().await.unwrap();
        match response.status().as_u16() {
            200 => allowed += 1,
            429 => {
                assert!(response.headers().contains_key("retry-after"));
                limited += 1;
            }
            other => panic!("call {call}: {other}"),
        }
    }
    assert_eq!((allowed, limited), (100, 50));
    second.stop().await;
}

#[tokio::test]
async fn an_unreachable_redis_fails_closed_with_503_or_open_as_configured_and_shows_in_metrics() {
    for (mode, expected) in [(FailMode::Closed, 503), (FailMode::Open, 200)] {
        let server = TestServer::start_with(|o| {
            o.rate_limits = RateLimits::default();
            // Nothing listens on port 1.
            o.redis_url = Some("redis://127.0.0.1:1".into());
            o.rate_limit_fail_mode = mode;
        })
        .await;
        let token = server.token().await;
        let response = server
            .get(&format!("/api/alerts/{}/machine", server.sample_alert()), Some(&token))
            .await;
        assert_eq!(response.status(), expected, "{mode:?}");
        if expected == 503 {
            assert_eq!(response.headers()["retry-after"], "1");
            assert_mde_error(response, 503, "ServiceUnavailable").await;
        }
        let ready = server.get("/readyz", None).await;
        assert_eq!(ready.status(), 503);
        let body: Value = ready.json().await.unwrap();
        assert_eq!(body["store"], "ok");
        assert!(body["rateLimits"].as_str().unwrap().starts_with("Redis"), "{body}");
        let metrics = server.get("/metrics", None).await.text().await.unwrap();
        let counted = match mode {
            FailMode::Closed => "openmde_rate_limit_failed_closed_total{backend=\"redis\"} 1",
            FailMode::Open => "openmde_rate_limit_failed_open_total{backend=\"redis\"} 1",
        };
        assert!(metrics.contains(counted), "{metrics}");
        assert!(metrics.contains("openmde_rate_limit_store_errors_total{backend=\"redis\"} 1"));
    }
}

#[tokio::test]
async fn health_endpoints_need_no_token_and_report_what_answers() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    let live: Value = server.get("/healthz", None).await.json().await.unwrap();
    assert_eq!(live["status"], "ok");
    let ready = server.get("/readyz", None).await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        (body["store"].clone(), body["rateLimits"].clone()),
        ("ok".into(), "ok".into())
    );
    let metrics = server.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("openmde_rate_limit_store_errors_total{backend=\"memory\"} 0"),
        "{metrics}"
    );
    if let Some(url) = redis_url() {
        let shared = TestServer::start_with(|o| {
            o.demo = false;
            o.redis_url = Some(url);
        })
        .await;
        let body: Value = shared.get("/readyz", None).await.json().await.unwrap();
        assert_eq!(body["rateLimits"], "ok", "{body}");
    }
}

#[tokio::test]
async fn an_application_deleted_through_one_replica_is_refused_by_every_replica_in_bounded_time() {
    let first = TestServer::start_with(|o| o.demo = false).await;
    let second = openmde::serve::start(crate::helpers::options(first.dir.path()))
        .await
        .unwrap();
    let second_url = format!("http://{}/api/machines", second.http_addr.unwrap());
    let token = first.app_token(&["Machine.Read.All"]).await;
    let call = |url: String| {
        let (client, token) = (first.client.clone(), token.clone());
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // 404: the tenant has no machines; the token is good on both replicas.
    assert_eq!(call(first.url("/api/machines")).await, 404);
    assert_eq!(call(second_url.clone()).await, 404);

    let client_id = crate::helpers::claims(&token).appid.unwrap();
    let path = format!("/admin/tenants/{}/apps/{client_id}", first.tenant());
    assert_eq!(first.admin(reqwest::Method::DELETE, &path, None).await.0, 204);
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_secs(openmde_identity::authenticator::REGISTRATION_RECHECK_SECONDS as u64 + 2);
    for url in [first.url("/api/machines"), second_url] {
        while call(url.clone()).await != 401 {
            assert!(std::time::Instant::now() < deadline, "{url} still takes the token");
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }
    second.stop().await;
}

/// A Redis of the test's own on a free port, to stop and start again.
struct OwnRedis {
    port: u16,
    process: Option<std::process::Child>,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let process = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (CI installs it)");
        let redis = OwnRedis {
            port,
            process: Some(process),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !redis.answers() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        redis
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
    }

    fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn redis_stopped_and_started_under_load_gives_503s_then_recovers_and_loses_no_write() {
    // The URL only says whether this machine has Redis (CI: always).
    if redis_url().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = OwnRedis::start(port);
    let server = std::sync::Arc::new(
        TestServer::start_with(|o| {
            o.rate_limits = load_limits();
            o.redis_url = Some(format!("redis://127.0.0.1:{port}"));
        })
        .await,
    );
    under_load(server, "Redis", async move {
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        redis.stop();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        OwnRedis::start(port)
    })
    .await;
}

/// MDE's limits, but high enough for [`under_load`]'s calls: every rate-limit check still runs.
fn load_limits() -> RateLimits {
    let mut limits = RateLimits::default();
    for api in [
        "alerts.machine=100000/min,1000000/h",
        "machines.tags=100000/min,1000000/h",
    ] {
        limits.set(api).unwrap();
    }
    limits
}

/// Reads (the core endpoint) and writes (machine tags) go on while `outage` takes `what` away
/// and brings it back: every answer is 200 or 503, some are 503, calls succeed again without a
/// restart, and no acknowledged write is lost.
async fn under_load<T>(server: std::sync::Arc<TestServer>, what: &str, outage: impl std::future::Future<Output = T>) {
    let token = server.token().await;
    let alert = server.sample_alert().to_string();
    let machine: Value = server.get_json(&format!("/api/alerts/{alert}/machine"), &token).await;
    let machine_id = machine["id"].as_str().unwrap().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    let reader = {
        let (server, token, stop) = (server.clone(), token.clone(), stop.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let path = format!("/api/alerts/{alert}/machine");
                let response = server.get(&path, Some(&token)).await;
                let status = response.status().as_u16();
                if status == 503 {
                    assert!(
                        response.headers().contains_key("retry-after"),
                        "503 without Retry-After"
                    );
                    assert_mde_error(response, 503, "ServiceUnavailable").await;
                }
                statuses.push(status);
            }
            statuses
        })
    };
    let writer = {
        let (server, token, stop, machine_id) = (server.clone(), token.clone(), stop.clone(), machine_id.clone());
        tokio::spawn(async move {
            let mut written = Vec::new();
            let mut statuses = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let tag = format!("load-{i}");
                let response = server
                    .client
                    .post(server.url(&format!("/api/machines/{machine_id}/tags")))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"Value": tag, "Action": "Add"}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                if status == 200 {
                    written.push(tag);
                }
                statuses.push(status);
                i += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            (statuses, written)
        })
    };
    let _restored = outage.await;
    // Calls succeed again once the connection is back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server
        .get(&format!("/api/alerts/{}/machine", server.sample_alert()), Some(&token))
        .await
        .status()
        != 200
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery after {what} came back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let read = reader.await.unwrap();
    let (wrote, written) = writer.await.unwrap();
    for statuses in [&read, &wrote] {
        assert!(statuses.iter().all(|s| *s == 200 || *s == 503), "{statuses:?}");
        assert!(statuses.contains(&503), "{what} was down for a while: {statuses:?}");
        assert_eq!(statuses.last(), Some(&200));
    }
    let stored: Value = server.get_json(&format!("/api/machines/{machine_id}"), &token).await;
    let tags: Vec<&str> = stored["machineTags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for tag in &written {
        assert!(tags.contains(&tag.as_str()), "the acknowledged write of {tag} was lost");
    }
}

#[tokio::test]
async fn postgres_crashed_and_restarted_under_load_gives_503s_then_recovers_and_loses_no_write() {
    // The URL only says whether this machine has PostgreSQL (CI: always); the test runs its own.
    if crate::helpers::test_database().is_none() {
        eprintln!("OPENMDE_TEST_DATABASE_URL is not set: skipping a PostgreSQL test");
        return;
    }
    let postgres = crate::postgres::OwnPostgres::start(None);
    let url = postgres.url();
    let server = std::sync::Arc::new(
        TestServer::start_with(|o| {
            o.data_dir = o.data_dir.clone().with_database(Some(url), 4);
            o.rate_limits = load_limits();
        })
        .await,
    );
    under_load(server, "PostgreSQL", async move {
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        postgres.crash();
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        postgres.up();
        postgres
    })
    .await;
}

/// `openmde serve` as a process of its own, on plain HTTP.
struct ServeProcess {
    child: std::process::Child,
    origin: String,
}

impl ServeProcess {
    async fn start(dir: &std::path::Path, database_url: &str, redis_url: &str) -> ServeProcess {
        let free = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .to_string()
        };
        let http = free();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_openmde"))
            .arg("--data-dir")
            .arg(dir)
            .args([
                "--database-url",
                database_url,
                "serve",
                "--no-admin",
                "--listen",
                &free(),
            ])
            .args(["--http-listen", &http, "--redis-url", redis_url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let origin = format!("http://{http}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while reqwest::get(format!("{origin}/readyz")).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "openmde serve did not start");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        ServeProcess { child, origin }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn two_server_processes_on_one_postgres_and_one_redis_share_data_and_limits() {
    let (Some(base), Some(redis)) = (crate::helpers::test_database(), redis_url()) else {
        eprintln!("OPENMDE_TEST_DATABASE_URL or OPENMDE_TEST_REDIS_URL is not set: skipping");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("replicas_{}", uuid::Uuid::new_v4().simple());
    let url = openmde_store::postgres::with_schema(&base, &schema).await.unwrap();
    let first = ServeProcess::start(dir.path(), &url, &redis).await;
    let second = ServeProcess::start(dir.path(), &url, &redis).await;
    let credentials = openmde::bootstrap::Credentials::read(&dir.path().join("credentials.json")).unwrap();
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{}/{}/oauth2/v2.0/token", first.origin, credentials.tenant_id))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.as_str()),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let alert = credentials.sample_alert_id.unwrap();

    // Written through the first, read through the second.
    let patched = client
        .patch(format!("{}/api/alerts/{alert}", first.origin))
        .bearer_auth(&token)
        .json(&serde_json::json!({"status": "InProgress", "assignedTo": "soc@contoso.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let read: Value = client
        .get(format!("{}/api/alerts/{alert}", second.origin))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (read["status"].as_str(), read["assignedTo"].as_str()),
        (Some("InProgress"), Some("soc@contoso.com"))
    );

    not_near_a_minute_boundary(15).await;
    let (mut allowed, mut limited) = (0, 0);
    for call in 0..150 {
        let origin = if call % 3 == 0 { &first.origin } else { &second.origin };
        let response = client
            .get(format!("{origin}/api/alerts/{alert}/machine"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => allowed += 1,
            429 => limited += 1,
            other => panic!("call {call}: {other}"),
        }
    }
    assert_eq!((allowed, limited), (100, 50));
}

#[tokio::test]
async fn a_secret_reset_through_one_replica_is_refused_by_every_replica_at_once() {
    let first = TestServer::start_with(|o| o.demo = false).await;
    let second = openmde::serve::start(crate::helpers::options(first.dir.path()))
        .await
        .unwrap();
    let second_token_url = format!(
        "http://{}/{}/oauth2/v2.0/token",
        second.http_addr.unwrap(),
        first.tenant()
    );
    let request = |secret: String| {
        let (client, url, client_id) = (
            first.client.clone(),
            second_token_url.clone(),
            first.credentials.client_id.clone(),
        );
        async move {
            client
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.as_str()),
                    ("scope", "https://api.securitycenter.microsoft.com/.default"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let old_secret = first.credentials.client_secret.clone();
    assert_eq!(request(old_secret.clone()).await.status(), 200);

    let path = format!(
        "/admin/tenants/{}/apps/{}/secret",
        first.tenant(),
        first.credentials.client_id
    );
    let (status, reset) = first.admin(reqwest::Method::POST, &path, None).await;
    assert_eq!(status, 201, "{reset}");
    let new_secret = reset["clientSecret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, old_secret);
    crate::tokens::entra_error(request(old_secret).await, 401, "invalid_client", 7000215).await;
    assert_eq!(request(new_secret).await.status(), 200);
    let unknown = format!("/admin/tenants/{}/apps/{}/secret", first.tenant(), uuid::Uuid::new_v4());
    assert_eq!(first.admin(reqwest::Method::POST, &unknown, None).await.0, 404);
    second.stop().await;
}

#[tokio::test]
async fn replicas_starting_together_on_an_empty_store_make_one_demo_tenant() {
    let (first_dir, second_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = crate::helpers::new_store_options(first_dir.path()).await;
    let shared = first
        .data_dir
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", first_dir.path().join("openmde.db").display()));
    let mut second = crate::helpers::options(second_dir.path());
    second.data_dir = second.data_dir.clone().with_database(Some(shared), 4);
    // Both migrate the empty store and race to create the demo tenant.
    let (first, second) = tokio::join!(openmde::serve::start(first), openmde::serve::start(second));
    let (first, second) = (first.unwrap(), second.unwrap());
    let created = [&first, &second]
        .iter()
        .filter(|server| server.new_credentials.is_some())
        .count();
    assert_eq!(created, 1, "one replica sets the store up");
    assert_eq!(first.store.tenants().await.unwrap().len(), 1);
    assert_eq!(second.store.tenants().await.unwrap().len(), 1);
    first.stop().await;
    second.stop().await;
}
