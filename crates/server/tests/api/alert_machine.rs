//! `GET /api/alerts/{id}/machine`: body, headers, and every refusal.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use openmde_identity::keys::SigningKey;
use openmde_identity::token::{AccessClaims, sign};
use openmde_model::schema::MACHINE;
use openmde_model::{EntityKind, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{TestServer, assert_mde_error, claims, client_trusting, header, now};

fn machine_path(alert: &str) -> String {
    format!("/api/alerts/{alert}/machine")
}

#[tokio::test]
async fn returns_the_machine_in_mde_shape() {
    let server = TestServer::start().await;
    let token = server.token().await;
    let response = server.get(&machine_path(server.sample_alert()), Some(&token)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
    );
    assert_eq!(response.headers()["odata-version"], "4.0");
    let text = response.text().await.unwrap();
    let body: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = body.keys().map(String::as_str).collect();
    let mut expected = vec!["@odata.context"];
    expected.extend(MACHINE.properties.iter().map(|p| p.name));
    assert_eq!(keys, expected, "EDMX order with live extras, every property present");
    assert_eq!(
        body["@odata.context"],
        format!("https://{}/api/$metadata#Machines/$entity", server.https)
    );
    assert!(body["mergedIntoMachineId"].is_null() && body["exclusionReason"].is_null() && body["osVersion"].is_null());
    assert_eq!(body["id"].as_str().unwrap().len(), 40);
    let last_seen = body["lastSeen"].as_str().unwrap();
    assert!(
        last_seen.ends_with('Z') && Timestamp::parse(last_seen).unwrap().to_string() == last_seen,
        "{last_seen}"
    );
    assert!(body["ipAddresses"].as_array().unwrap().iter().all(|ip| {
        ip.as_object().unwrap().keys().collect::<Vec<_>>() == ["ipAddress", "macAddress", "type", "operationalStatus"]
    }));
    // The machine is the alert's: its id is the alert's machineId.
    let store = server.store();
    let tenant = store.tenant(server.tenant()).await.unwrap().unwrap();
    let found = store
        .alert_machine(tenant.key, server.sample_alert(), Timestamp(0))
        .await
        .unwrap();
    assert_eq!(
        found,
        openmde_store::AlertMachine::Found(text[text.find(",\"id\"").unwrap()..].replacen(',', "{", 1))
    );

    // The versioned path and the plain-HTTP listener answer the same.
    let versioned = server
        .get(
            &format!("/api/v1.0/alerts/{}/machine", server.sample_alert()),
            Some(&token),
        )
        .await;
    assert_eq!(versioned.status(), 200);
    let plain = reqwest::Client::new()
        .get(format!("http://{}{}", server.http, machine_path(server.sample_alert())))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let plain: Value = plain.json().await.unwrap();
    assert_eq!(
        plain["@odata.context"],
        format!("http://{}/api/$metadata#Machines/$entity", server.http)
    );
}

#[tokio::test]
async fn the_certificate_covers_mde_hosts_and_the_context_echoes_them() {
    let server = TestServer::start_with(|o| o.tls_names = vec!["mde.test.internal".into()]).await;
    let token = server.token().await;
    let ca = std::fs::read(server.dir.path().join("tls/ca.pem")).unwrap();
    for host in [
        "api.securitycenter.microsoft.com",
        "api.security.microsoft.com",
        "eu.api.security.microsoft.com",
        "api-us.securitycenter.microsoft.com",
        "localhost",
        "mde.test.internal",
    ] {
        let client = client_trusting(&ca, &[(host, server.https)]);
        let url = format!(
            "https://{host}:{}{}",
            server.https.port(),
            machine_path(server.sample_alert())
        );
        let response = client
            .get(url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{host}: {e:?}"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body["@odata.context"],
            format!("https://{host}:{}/api/$metadata#Machines/$entity", server.https.port())
        );
    }
    // A name the certificate does not cover is refused by the client.
    let client = client_trusting(&ca, &[("example.org", server.https)]);
    let url = format!("https://example.org:{}/api", server.https.port());
    assert!(client.get(url).send().await.is_err());
}

#[tokio::test]
async fn missing_and_malformed_authorization_is_401() {
    let server = TestServer::start().await;
    let path = machine_path(server.sample_alert());
    let message = assert_mde_error(server.get(&path, None).await, 401, "Unauthorized").await;
    assert!(message.contains("missing"), "{message}");
    for value in [
        "Basic Zm9vOmJhcg==",
        "Bearer",
        "Bearer    ",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "token",
    ] {
        let response = server
            .client
            .get(server.url(&path))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_mde_error(response, 401, "Unauthorized").await;
    }
}

#[tokio::test]
async fn forged_or_out_of_date_tokens_are_401() {
    let server = TestServer::start().await;
    let keys = server.keyring().await;
    let good = server.token().await;
    let kid = header(&good)["kid"].as_str().unwrap().to_string();
    let resign = |edit: &dyn Fn(&mut AccessClaims)| {
        let mut c = claims(&good);
        edit(&mut c);
        sign(&keys, &c).unwrap()
    };
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let payload = serde_json::to_value(claims(&good)).unwrap();
    let jwks: Value = server.get("/discovery/keys", None).await.json().await.unwrap();
    let public_modulus = jwks["keys"][0]["n"].as_str().unwrap().to_string();
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = Some(kid.clone());
    let other_key = SigningKey::generate().unwrap();
    let mut same_kid = Header::new(Algorithm::RS256);
    same_kid.kid = Some(kid.clone());
    let mut tampered: Vec<String> = good.split('.').map(str::to_string).collect();
    let mut elevated = payload.clone();
    elevated["roles"] = json!(["Machine.ReadWrite.All", "Machine.Isolate"]);
    tampered[1] = b64(&elevated);

    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&payload)),
        ),
        (
            "HS256 keyed with the public key",
            jsonwebtoken::encode(
                &hs256,
                &payload,
                &EncodingKey::from_secret(public_modulus.as_bytes()).unwrap(),
            )
            .unwrap(),
        ),
        (
            "another key under our kid",
            jsonwebtoken::encode(
                &same_kid,
                &payload,
                &EncodingKey::from_rsa_pem(other_key.private_key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        ),
        ("unknown kid", {
            let mut h = Header::new(Algorithm::RS256);
            h.kid = Some("unknown".into());
            jsonwebtoken::encode(
                &h,
                &payload,
                &EncodingKey::from_rsa_pem(other_key.private_key_pem.as_bytes()).unwrap(),
            )
            .unwrap()
        }),
        ("tampered payload", tampered.join(".")),
        (
            "expired",
            resign(&|c| {
                c.exp = now() - 600;
                c.nbf = now() - 4000;
            }),
        ),
        ("not yet valid", resign(&|c| c.nbf = now() + 3600)),
        (
            "wrong audience",
            resign(&|c| c.aud = "https://graph.microsoft.com".into()),
        ),
        (
            "wrong issuer",
            resign(&|c| c.iss = "https://login.microsoftonline.com/x/v2.0".into()),
        ),
        (
            "issuer of another tenant",
            resign(&|c| c.iss = "https://sts.windows.net/33333333-4444-5555-6666-777777777777/".into()),
        ),
        (
            "unknown tenant",
            resign(&|c| {
                c.tid = "33333333-4444-5555-6666-777777777777".into();
                c.iss = format!("https://sts.windows.net/{}/", c.tid);
            }),
        ),
        ("no appid", resign(&|c| c.appid = None)),
    ];
    let path = machine_path(server.sample_alert());
    for (case, token) in cases {
        let response = server.get(&path, Some(&token)).await;
        assert_eq!(response.status(), 401, "{case}");
        let message = assert_mde_error(response, 401, "Unauthorized").await;
        assert!(message.starts_with("Invalid token"), "{case}: {message}");
    }
    assert_eq!(server.get(&path, Some(&good)).await.status(), 200);
}

#[tokio::test]
async fn without_a_machine_permission_it_is_403() {
    let server = TestServer::start().await;
    let path = machine_path(server.sample_alert());
    for roles in [vec!["Alert.Read.All", "Alert.ReadWrite.All", "User.Read.All"], vec![]] {
        let token = server.app_token(&roles).await;
        let message = assert_mde_error(server.get(&path, Some(&token)).await, 403, "Forbidden").await;
        assert!(message.contains("Machine.Read.All"), "{message}");
    }
    for role in ["Machine.Read.All", "Machine.ReadWrite.All"] {
        let token = server.app_token(&[role]).await;
        assert_eq!(server.get(&path, Some(&token)).await.status(), 200, "{role}");
    }
}

fn days_ago(days: i64) -> String {
    Timestamp::now().minus_days(days).to_string()
}

#[tokio::test]
async fn unknown_alerts_machines_and_expired_alerts_are_404() {
    let server = TestServer::start_with(|o| o.retention_days = 30).await;
    server
        .import(
            EntityKind::Machine,
            vec![json!({"id": "m-1", "computerDnsName": "kept.contoso.com"})],
        )
        .await;
    server.import( EntityKind::Alert, vec![
        json!({"id": "a-recent", "machineId": "m-1", "lastUpdateTime": days_ago(29), "alertCreationTime": days_ago(400)}),
        json!({"id": "a-old", "machineId": "m-1", "lastUpdateTime": days_ago(31), "alertCreationTime": days_ago(31)}),
        json!({"id": "a-created-recently", "machineId": "m-1", "alertCreationTime": days_ago(2)}),
        json!({"id": "a-no-machine", "title": "Impossible travel", "lastUpdateTime": days_ago(1)}),
        json!({"id": "a-gone", "machineId": "m-deleted", "lastUpdateTime": days_ago(1)}),
    ]).await;
    let token = server.token().await;
    let found = server.get(&machine_path("a-recent"), Some(&token)).await;
    assert_eq!(found.status(), 200);
    assert_eq!(
        found.json::<Value>().await.unwrap()["computerDnsName"],
        "kept.contoso.com"
    );
    assert_eq!(
        server
            .get(&machine_path("a-created-recently"), Some(&token))
            .await
            .status(),
        200
    );
    let cases = [
        ("does-not-exist", "Alert does-not-exist was not found"),
        ("a-old", "Alert a-old was not found"),
        ("a-no-machine", "Machine of alert a-no-machine was not found"),
        ("a-gone", "Machine m-deleted was not found"),
        ("a%20b%2Fc", "Alert a b/c was not found"),
    ];
    for (alert, expected) in cases {
        let message = assert_mde_error(
            server.get(&machine_path(alert), Some(&token)).await,
            404,
            "ResourceNotFound",
        )
        .await;
        assert_eq!(message, expected);
    }
}

#[tokio::test]
async fn tenants_see_only_their_own_alerts() {
    let server = TestServer::start().await;
    let token = server.other_tenant_token(&["Machine.Read.All"]).await;
    assert_eq!(claims(&token).tid, "44444444-5555-6666-7777-888888888888");
    let message = assert_mde_error(
        server.get(&machine_path(server.sample_alert()), Some(&token)).await,
        404,
        "ResourceNotFound",
    )
    .await;
    assert!(message.starts_with("Alert "));
}

/// Waits, if needed, so that the next few seconds stay inside one clock minute.
async fn away_from_minute_end() {
    let second = now() % 60;
    if second > 45 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
}

#[tokio::test]
async fn the_default_limit_is_100_calls_a_minute_per_application() {
    let server = TestServer::start_with(|o| o.rate_limits = openmde::state::RateLimits::default()).await;
    let (first, second) = (server.token().await, server.app_token(&["Machine.Read.All"]).await);
    let path = machine_path(server.sample_alert());
    away_from_minute_end().await;
    for i in 0..100 {
        assert_eq!(server.get(&path, Some(&first)).await.status(), 200, "call {i}");
    }
    let refused = server.get(&path, Some(&first)).await;
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_mde_error(refused, 429, "TooManyRequests").await;
    // Another application of the tenant has its own budget.
    assert_eq!(server.get(&path, Some(&second)).await.status(), 200);
}

#[tokio::test]
async fn configured_limits_apply_per_window() {
    let server = TestServer::start_with(|o| {
        let mut limits = openmde::state::RateLimits::default();
        limits.set("alerts.machine=1000/min,3/h").unwrap();
        o.rate_limits = limits;
    })
    .await;
    let token = server.token().await;
    let path = machine_path("unknown-alert");
    for _ in 0..3 {
        // Refusals by the store (404) count too: the call was made.
        assert_eq!(server.get(&path, Some(&token)).await.status(), 404);
    }
    let refused = server.get(&path, Some(&token)).await;
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after));
    assert_mde_error(refused, 429, "TooManyRequests").await;
    // Calls that are not authorised are not counted against the application.
    let forbidden = server.app_token(&["Alert.Read.All"]).await;
    assert_eq!(server.get(&path, Some(&forbidden)).await.status(), 403);
}

#[tokio::test]
async fn every_error_has_its_own_target_and_unknown_routes_use_the_envelope() {
    let server = TestServer::start().await;
    let token = server.token().await;
    let mut targets = std::collections::HashSet::new();
    for _ in 0..5 {
        let body: Value = server
            .get(&machine_path("nope"), Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert!(targets.insert(body["error"]["target"].as_str().unwrap().to_string()));
    }
    assert_mde_error(server.get("/api/no/such/route", Some(&token)).await, 404, "NotFound").await;
    assert_mde_error(server.get("/api/alerts/x/nothing", Some(&token)).await, 404, "NotFound").await;
    let post = server
        .client
        .post(server.url(&machine_path("x")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_mde_error(post, 405, "MethodNotAllowed").await;
}

#[tokio::test]
async fn no_endpoint_reaches_another_tenants_data() {
    let server = TestServer::start().await;
    let roles = [
        "Alert.ReadWrite.All",
        "Machine.ReadWrite.All",
        "User.Read.All",
        "File.Read.All",
        "Ip.Read.All",
        "URL.Read.All",
    ];
    let foreign = server.other_tenant_token(&roles).await;
    let alert = server.sample_alert().to_string();
    let own = server.token().await;
    let machine: Value = server.get_json(&machine_path(&alert), &own).await;
    let machine_id = machine["id"].as_str().unwrap().to_string();
    let dns_name = machine["computerDnsName"].as_str().unwrap().to_string();
    let mut reads = crate::helpers::reads_of(&alert, &machine_id);
    reads.extend([format!("/api/machines/{dns_name}"), "/api/machines".to_string()]);
    for path in &reads {
        assert_mde_error(server.get(path, Some(&foreign)).await, 404, "ResourceNotFound").await;
    }
    // Lists of the other tenant are empty, not the demo tenant's.
    for path in [
        "/api/alerts",
        "/api/machines/findbytag?tag=VIP&useStartsWithFilter=true",
    ] {
        let body: Value = server.get_json(path, &foreign).await;
        assert_eq!(body["value"], serde_json::json!([]), "{path}");
    }
    assert_eq!(
        server
            .get("/api/alerts/$count", Some(&foreign))
            .await
            .text()
            .await
            .unwrap(),
        "0"
    );
    // Writes find nothing either, and change nothing.
    let writes = [
        (
            reqwest::Method::PATCH,
            format!("/api/alerts/{alert}"),
            r#"{"status":"Resolved"}"#.to_string(),
        ),
        (
            reqwest::Method::POST,
            "/api/alerts/batchUpdate".into(),
            format!(r#"{{"alertIds":["{alert}"],"status":"Resolved"}}"#),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/machines/{machine_id}"),
            r#"{"machineTags":["x"]}"#.into(),
        ),
        (
            reqwest::Method::POST,
            format!("/api/machines/{machine_id}/tags"),
            r#"{"Value":"x","Action":"Add"}"#.into(),
        ),
        (
            reqwest::Method::POST,
            format!("/api/machines/{machine_id}/setDeviceValue"),
            r#"{"DeviceValue":"High"}"#.into(),
        ),
        (
            reqwest::Method::POST,
            "/api/machines/AddOrRemoveTagForMultipleMachines".into(),
            format!(r#"{{"Value":"x","Action":"Add","MachineIds":["{machine_id}"]}}"#),
        ),
        (
            reqwest::Method::POST,
            "/api/alerts/CreateAlertByReference".into(),
            format!(
                r#"{{"machineId":"{machine_id}","severity":"Low","title":"t","description":"d","recommendedAction":"r","eventTime":"2024-01-01T00:00:00Z","reportId":"1","category":"Exploit"}}"#
            ),
        ),
    ];
    for (method, path, body) in &writes {
        let response = server
            .client
            .request(method.clone(), server.url(path))
            .bearer_auth(&foreign)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_mde_error(response, 404, "ResourceNotFound").await;
    }
    let after: Value = server.get_json(&format!("/api/alerts/{alert}"), &own).await;
    assert_ne!(after["status"], "Resolved");
    let machine_after: Value = server.get_json(&format!("/api/machines/{machine_id}"), &own).await;
    assert_eq!(machine_after["machineTags"], machine["machineTags"]);
    assert_eq!(machine_after["deviceValue"], machine["deviceValue"]);
}
