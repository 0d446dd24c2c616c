//! Users: the password grant (ROPC), refresh tokens, and delegated tokens at the API.

use serde_json::Value;

use crate::helpers::{TestServer, assert_mde_error, claims};

const MDE: &str = "https://api.securitycenter.microsoft.com";
const UPN: &str = "alice@contoso.onmicrosoft.com";
const PASSWORD: &str = "Correct horse ~ battery+staple/=";

async fn server_with_user() -> TestServer {
    let server = TestServer::start().await;
    let store = server.store();
    let tenant = store.tenant(server.tenant()).await.unwrap().unwrap();
    let administrators = [openmde_store::ADMINISTRATORS_GROUP];
    crate::helpers::create_user(
        store.as_ref(),
        &tenant,
        (UPN, "Alice Analyst", PASSWORD),
        &administrators,
    )
    .await;
    server
}

async fn token_request(server: &TestServer, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = server.client.post(server.url(path)).form(form).send().await.unwrap();
    assert!(response.headers().get("retry-after").is_none());
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn password_grant(server: &TestServer, scope: &str, password: &str) -> (u16, Value) {
    let path = format!("/{}/oauth2/v2.0/token", server.tenant());
    let client_id = server.credentials.client_id.clone();
    let form = [
        ("grant_type", "password"),
        ("client_id", client_id.as_str()),
        ("username", UPN),
        ("password", password),
        ("scope", scope),
        ("client_info", "1"),
    ];
    token_request(server, &path, &form).await
}

fn payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn a_user_signs_in_with_a_password_and_gets_delegated_tokens() {
    let server = server_with_user().await;
    let scope = format!("{MDE}/Machine.Read openid profile offline_access");
    let (status, body) = password_grant(&server, &scope, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], scope.as_str());
    assert_eq!(body["token_type"], "Bearer");
    let access = body["access_token"].as_str().unwrap();
    let access_claims = claims(access);
    assert_eq!(access_claims.scp.as_deref(), Some("Machine.Read"));
    assert_eq!(access_claims.upn.as_deref(), Some(UPN));
    assert!(access_claims.roles.is_empty());
    assert_eq!(access_claims.appidacr.as_deref(), Some("0"), "a public client");
    let raw = payload(access);
    assert_eq!(raw["name"], "Alice Analyst");
    assert_eq!(raw["unique_name"], UPN);
    assert_ne!(raw["sub"], raw["oid"], "sub is pairwise");

    let id_token = payload(body["id_token"].as_str().unwrap());
    assert_eq!(id_token["aud"], server.credentials.client_id.as_str());
    assert_eq!(id_token["oid"], raw["oid"]);
    assert_eq!(id_token["preferred_username"], UPN);
    assert_eq!(
        id_token["iss"],
        format!("https://{}/{}/v2.0", server.https, server.tenant())
    );
    use base64::Engine;
    let client_info: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(client_info["uid"], raw["oid"]);
    assert_eq!(client_info["utid"], server.tenant());

    // The API takes the token by its scope: Machine.Read, but not Alert.Read.
    assert_eq!(server.machine_status(server.sample_alert(), access).await, 200);
    assert_mde_error(server.get("/api/alerts", Some(access)).await, 403, "Forbidden").await;
    // Neither the id token nor the refresh token opens the API.
    for not_access in [
        body["id_token"].as_str().unwrap(),
        body["refresh_token"].as_str().unwrap(),
    ] {
        assert_eq!(server.machine_status(server.sample_alert(), not_access).await, 401);
    }
}

#[tokio::test]
async fn refresh_tokens_give_new_tokens_and_new_scopes() {
    let server = server_with_user().await;
    let (_, first) = password_grant(&server, &format!("{MDE}/Machine.Read offline_access"), PASSWORD).await;
    let refresh = first["refresh_token"].as_str().unwrap();
    let path = format!("/{}/oauth2/v2.0/token", server.tenant());
    let client_id = server.credentials.client_id.clone();
    let alert_scope = format!("{MDE}/Alert.Read");
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id.as_str()),
        ("refresh_token", refresh),
        ("scope", alert_scope.as_str()),
    ];
    let (status, body) = token_request(&server, &path, &form).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(claims(access).scp.as_deref(), Some("Alert.Read"));
    assert_eq!(server.get("/api/alerts?$top=1", Some(access)).await.status(), 200);
    // Without a scope, the refresh token's own.
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id.as_str()),
        ("refresh_token", refresh),
    ];
    let (status, body) = token_request(&server, &path, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap()).scp.as_deref(),
        Some("Machine.Read")
    );

    // Tampered, foreign or not a refresh token at all: invalid_grant.
    let other_app = server.app_token(&["Machine.Read.All"]).await;
    let other_client = claims(&other_app).appid.unwrap();
    let tampered = format!("{}x", &refresh[..refresh.len() - 1]);
    for (client, token) in [
        (client_id.as_str(), tampered.as_str()),
        (other_client.as_str(), refresh),
        (client_id.as_str(), first["id_token"].as_str().unwrap()),
        (client_id.as_str(), first["access_token"].as_str().unwrap()),
    ] {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", token),
        ];
        let (status, body) = token_request(&server, &path, &form).await;
        assert_eq!((status, &body["error"]), (400, &Value::from("invalid_grant")), "{body}");
        assert_eq!(body["error_codes"][0], 9002313);
    }
}

#[tokio::test]
async fn password_grant_errors_carry_entra_codes() {
    let server = server_with_user().await;
    let scope = format!("{MDE}/Machine.Read");
    let (status, body) = password_grant(&server, &scope, "wrong").await;
    assert_eq!(
        (status, body["error"].as_str(), body["error_codes"][0].as_i64()),
        (400, Some("invalid_grant"), Some(50126))
    );
    for bad_scope in [
        format!("{MDE}/Machine.Read.All"),
        "openid profile".to_string(),
        format!("{MDE}/Nope"),
    ] {
        let (status, body) = password_grant(&server, &bad_scope, PASSWORD).await;
        assert_eq!(
            (status, body["error_codes"][0].as_i64()),
            (400, Some(70011)),
            "{bad_scope}: {body}"
        );
    }
    // A user of another tenant is refused like a wrong password.
    let store = server.store();
    let other = store
        .create_tenant(
            "99999999-5555-6666-7777-888888888888",
            "Fabrikam",
            "fabrikam.onmicrosoft.com",
        )
        .await
        .unwrap();
    crate::helpers::create_user(
        store.as_ref(),
        &other,
        ("bob@fabrikam.onmicrosoft.com", "Bob", "pw-bob"),
        &[],
    )
    .await;
    let path = format!("/{}/oauth2/v2.0/token", server.tenant());
    let client_id = server.credentials.client_id.clone();
    let form = [
        ("grant_type", "password"),
        ("client_id", client_id.as_str()),
        ("username", "bob@fabrikam.onmicrosoft.com"),
        ("password", "pw-bob"),
        ("scope", scope.as_str()),
    ];
    let (status, body) = token_request(&server, &path, &form).await;
    assert_eq!((status, body["error_codes"][0].as_i64()), (400, Some(50126)));
    // A confidential client that sends a wrong secret is refused as such.
    let form = [
        ("grant_type", "password"),
        ("client_id", client_id.as_str()),
        ("client_secret", "not it"),
        ("username", UPN),
        ("password", PASSWORD),
        ("scope", scope.as_str()),
    ];
    let (status, body) = token_request(&server, &path, &form).await;
    assert_eq!((status, body["error_codes"][0].as_i64()), (401, Some(7000215)));
}

#[tokio::test]
async fn v1_password_grant_and_user_realm() {
    let server = server_with_user().await;
    let path = format!("/{}/oauth2/token", server.tenant());
    let client_id = server.credentials.client_id.clone();
    let form = [
        ("grant_type", "password"),
        ("client_id", client_id.as_str()),
        ("resource", MDE),
        ("username", UPN),
        ("password", PASSWORD),
    ];
    let (status, body) = token_request(&server, &path, &form).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["expires_in"].is_string() && body["refresh_token"].is_string());
    let scp = claims(body["access_token"].as_str().unwrap()).scp.unwrap();
    assert!(
        scp.split(' ').any(|s| s == "Machine.ReadWrite") && scp.split(' ').any(|s| s == "Alert.Read"),
        "{scp}"
    );

    let realm: Value = server
        .get(&format!("/common/userrealm/{UPN}?api-version=1.0"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(realm["account_type"], "Managed");
    assert_eq!(realm["domain_name"], "contoso.onmicrosoft.com");
}

#[tokio::test]
async fn the_device_code_flow_waits_for_the_user_and_is_redeemed_once() {
    let server = server_with_user().await;
    let client_id = server.credentials.client_id.clone();
    let scope = format!("{MDE}/Alert.Read offline_access openid profile");
    let (status, flow) = token_request(
        &server,
        &format!("/{}/oauth2/v2.0/devicecode", server.tenant()),
        &[("client_id", client_id.as_str()), ("scope", scope.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{flow}");
    let (device_code, user_code) = (
        flow["device_code"].as_str().unwrap(),
        flow["user_code"].as_str().unwrap(),
    );
    assert_eq!(
        flow["verification_uri"],
        format!("https://{}/devicelogin", server.https)
    );
    assert_eq!(
        (flow["interval"].as_i64(), flow["expires_in"].as_i64()),
        (Some(5), Some(900))
    );
    assert!(flow["message"].as_str().unwrap().contains(user_code));

    // Polls send no scope; until the user signs in, authorization_pending.
    let token_path = format!("/{}/oauth2/v2.0/token", server.tenant());
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", client_id.as_str()),
        ("client_info", "1"),
        ("code", device_code),
        ("device_code", device_code),
    ];
    let (status, body) = token_request(&server, &token_path, &poll).await;
    assert_eq!(
        (status, body["error"].as_str(), body["error_codes"][0].as_i64()),
        (400, Some("authorization_pending"), Some(70016))
    );

    let sign_in = |code: &str, password: &str| {
        let form = [
            ("user_code", code.to_string()),
            ("username", UPN.to_string()),
            ("password", password.to_string()),
        ];
        let request = server.client.post(server.url("/devicelogin")).form(&form);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    let page = server.get("/devicelogin", None).await;
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(sign_in(user_code, "wrong").await.0, 400);
    assert_eq!(sign_in("NOTACODE1", PASSWORD).await.0, 400);
    let (status, text) = sign_in(&user_code.to_lowercase(), PASSWORD).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("signed in"));

    let (status, body) = token_request(&server, &token_path, &poll).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(claims(access).scp.as_deref(), Some("Alert.Read"));
    assert_eq!(claims(access).upn.as_deref(), Some(UPN));
    assert!(body["refresh_token"].is_string() && body["client_info"].is_string());
    assert_eq!(server.get("/api/alerts?$top=1", Some(access)).await.status(), 200);
    let (status, body) = token_request(&server, &token_path, &poll).await;
    assert_eq!(
        (status, body["error_codes"][0].as_i64()),
        (400, Some(70000)),
        "redeemed once"
    );

    // A device code for a bad scope is refused at once.
    let bad_scope = format!("{MDE}/Machine.Read.All");
    let (status, body) = token_request(
        &server,
        &format!("/{}/oauth2/v2.0/devicecode", server.tenant()),
        &[("client_id", client_id.as_str()), ("scope", bad_scope.as_str())],
    )
    .await;
    assert_eq!((status, body["error_codes"][0].as_i64()), (400, Some(70011)));
}
