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
