//! Tokens of an external issuer (`--trust-issuer`): openmde as the API only.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::helpers::{TestServer, assert_mde_error, now};

const ISSUER: &str = "https://keycloak.example/realms/mde";

fn key() -> EncodingKey {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes()).unwrap()
}

fn token(key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

#[tokio::test]
async fn tokens_of_a_trusted_issuer_are_verified_against_its_jwks() {
    let config = tempfile::tempdir().unwrap();
    let signing = key();
    let mut jwk = Jwk::from_encoding_key(&signing, Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("ext-1".into());
    std::fs::write(config.path().join("jwks.json"), json!({"keys": [jwk]}).to_string()).unwrap();
    let file = config.path().join("keycloak.json");
    let settings = json!({"issuer": ISSUER, "jwks": "jwks.json", "audiences": ["openmde-api"],
        "tenant": "contoso.onmicrosoft.com"});
    std::fs::write(&file, settings.to_string()).unwrap();
    let server = TestServer::start_with(|o| o.trusted_issuers = vec![file.clone()]).await;

    let now = now();
    let app = json!({"iss": ISSUER, "aud": "openmde-api", "exp": now + 600, "nbf": now - 10, "azp": "soar",
        "roles": ["Machine.Read.All"]});
    let alert = server.sample_alert().to_string();
    assert_eq!(
        server.machine_status(&alert, &token(&signing, "ext-1", &app)).await,
        200
    );
    // A user of the issuer has the roles of the groups their `groups` claim names.
    let tenant = server.store().tenant(server.tenant()).await.unwrap().unwrap().key;
    let groups = server.store().user_groups(tenant).await.unwrap();
    let administrators = &groups
        .iter()
        .find(|g| g.display_name == openmde_store::ADMINISTRATORS_GROUP)
        .unwrap()
        .id;
    let user = json!({"iss": ISSUER, "aud": ["account", "openmde-api"], "exp": now + 600, "azp": "portal",
        "sub": "user-1", "preferred_username": "erin@contoso.onmicrosoft.com", "scope": "openid Alert.Read"});
    let without_role = assert_mde_error(
        server
            .get("/api/alerts?$top=1", Some(&token(&signing, "ext-1", &user)))
            .await,
        403,
        "Forbidden",
    )
    .await;
    assert!(without_role.contains("'View data'"), "{without_role}");
    let mut user = user;
    user["groups"] = json!(["some-other-group", administrators]);
    let user_token = token(&signing, "ext-1", &user);
    assert_eq!(server.get("/api/alerts?$top=1", Some(&user_token)).await.status(), 200);
    assert_mde_error(
        server
            .get(&format!("/api/alerts/{alert}/machine"), Some(&user_token))
            .await,
        403,
        "Forbidden",
    )
    .await;

    let with = |changes: Value| {
        let mut claims = app.clone();
        claims
            .as_object_mut()
            .unwrap()
            .extend(changes.as_object().unwrap().clone());
        claims
    };
    let own_kid = crate::helpers::header(&server.token().await)["kid"]
        .as_str()
        .unwrap()
        .to_string();
    for (case, sent) in [
        (
            "another audience",
            token(&signing, "ext-1", &with(json!({"aud": "other"}))),
        ),
        ("expired", token(&signing, "ext-1", &with(json!({"exp": now - 600})))),
        ("another key under its kid", token(&key(), "ext-1", &app)),
        ("an unknown kid", token(&signing, "ext-2", &app)),
        ("openmde's kid", token(&key(), &own_kid, &app)),
        ("no client", token(&signing, "ext-1", &with(json!({"azp": null})))),
    ] {
        assert_eq!(server.machine_status(&alert, &sent).await, 401, "{case}");
    }
    // openmde's own tokens still work beside it.
    assert_eq!(server.machine_status(&alert, &server.token().await).await, 200);
}

#[tokio::test]
async fn a_trusted_issuer_of_an_unknown_tenant_stops_the_start() {
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("bad.json");
    std::fs::write(
        &file,
        json!({"issuer": ISSUER, "jwks": "none.json", "audiences": ["x"], "tenant": "nope.example"}).to_string(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut options = crate::helpers::new_store_options(dir.path()).await;
    options.trusted_issuers = vec![file];
    let error = openmde::serve::start(options).await.err().unwrap().to_string();
    assert!(error.contains("no tenant 'nope.example'"), "{error}");
}
