//! The Entra-compatible issuer: discovery, JWKS, v2 and v1 client credentials, and errors.

use serde_json::Value;

use crate::helpers::{TestServer, claims, header, now, uuid_like};

async fn post_token(server: &TestServer, tenant: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    server
        .client
        .post(server.url(&format!("/{tenant}/{path}")))
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn v2_client_credentials_issue_an_mde_shaped_token() {
    let server = TestServer::start().await;
    let c = &server.credentials;
    let response = post_token(
        &server,
        server.tenant(),
        "oauth2/v2.0/token",
        &[
            ("client_id", &c.client_id),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
            ("client_secret", &c.client_secret),
            ("grant_type", "client_credentials"),
            ("client_info", "1"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["token_type", "expires_in", "ext_expires_in", "access_token"],
        "no scope for this grant"
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);

    let token = body["access_token"].as_str().unwrap();
    let head = header(token);
    assert_eq!(head["alg"], "RS256");
    assert_eq!(head["kid"], head["x5t"]);
    let claims = claims(token);
    assert_eq!(claims.aud, "https://api.securitycenter.microsoft.com");
    assert_eq!(claims.iss, format!("https://sts.windows.net/{}/", server.tenant()));
    assert_eq!(claims.tid, server.tenant());
    assert_eq!(claims.appid.as_deref(), Some(c.client_id.as_str()));
    assert_eq!(claims.ver.as_deref(), Some("1.0"));
    assert_eq!(claims.sub, claims.oid);
    assert!(claims.roles.contains(&"Machine.Read.All".to_string()));
    assert!(claims.roles.contains(&"Alert.ReadWrite.All".to_string()));
    assert_eq!(claims.exp - claims.iat, 3900);
    assert!((claims.exp - now() - 3600).abs() <= 2);

    // The kid is published, at every JWKS address clients use.
    for path in [
        format!("/{}/discovery/v2.0/keys", server.tenant()),
        format!("/{}/discovery/keys", server.tenant()),
        "/discovery/keys".into(),
        "/common/discovery/keys".into(),
    ] {
        let jwks: Value = server.get(&path, None).await.json().await.unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kid"], head["kid"], "{path}");
        assert_eq!(
            (key["kty"].as_str(), key["use"].as_str(), key["e"].as_str()),
            (Some("RSA"), Some("sig"), Some("AQAB"))
        );
        assert!(key["x5c"][0].as_str().unwrap().len() > 500);
    }
}

#[tokio::test]
async fn v1_tokens_answer_in_strings_and_every_resource_alias_is_an_audience() {
    let server = TestServer::start().await;
    let c = &server.credentials;
    for resource in [
        "https://api.securitycenter.microsoft.com",
        "https://api.security.microsoft.com",
        "https://api.securitycenter.windows.com",
        "https://securitycenter.onmicrosoft.com/windowsatpservice",
        "fc780465-2017-40d4-a0c5-307022471b92",
    ] {
        let form = [
            ("resource", resource),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("grant_type", "client_credentials"),
        ];
        let response = post_token(&server, server.tenant(), "oauth2/token", &form).await;
        assert_eq!(response.status(), 200, "{resource}");
        let body: Value = response.json().await.unwrap();
        for field in [
            "token_type",
            "expires_in",
            "ext_expires_in",
            "expires_on",
            "not_before",
            "resource",
            "access_token",
        ] {
            assert!(body[field].is_string(), "{field} of {body}");
        }
        assert_eq!(body["resource"], resource);
        let token = body["access_token"].as_str().unwrap();
        assert_eq!(claims(token).aud, resource);
        // And the API accepts it.
        let machine = server
            .get(&format!("/api/alerts/{}/machine", server.sample_alert()), Some(token))
            .await;
        assert_eq!(machine.status(), 200, "{resource}");

        let scope = format!("{resource}/.default");
        let form = [
            ("scope", scope.as_str()),
            ("client_id", &c.client_id),
            ("client_secret", &c.client_secret),
            ("grant_type", "client_credentials"),
        ];
        let response = post_token(&server, server.tenant(), "oauth2/v2.0/token", &form).await;
        assert_eq!(response.status(), 200, "{scope}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(claims(body["access_token"].as_str().unwrap()).aud, resource);
    }
}

#[tokio::test]
async fn basic_authentication_and_domain_tenants_work() {
    let server = TestServer::start().await;
    let c = &server.credentials;
    let response = server
        .client
        .post(server.url("/contoso.onmicrosoft.com/oauth2/v2.0/token"))
        .basic_auth(&c.client_id, Some(&c.client_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(claims(body["access_token"].as_str().unwrap()).tid, server.tenant());
}

pub async fn entra_error(response: reqwest::Response, status: u16, error: &str, code: u64) -> Value {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().get("retry-after").is_none(),
        "no Retry-After on token errors"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]), "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{description}");
    assert!(
        description.contains("\r\nTrace ID: ") && description.contains("\r\nCorrelation ID: "),
        "{description}"
    );
    assert!(uuid_like(body["trace_id"].as_str().unwrap()));
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
    body
}

/// (case, tenant, endpoint, form, HTTP status, OAuth error, AADSTS code)
type Refusal<'a> = (&'a str, &'a str, &'a str, Vec<(String, String)>, u16, &'a str, u64);

/// A token request form; `None` values are left out.
fn form(fields: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
        .collect()
}

#[tokio::test]
async fn token_errors_carry_entra_codes_and_statuses() {
    let server = TestServer::start().await;
    let store = server.store();
    let other = openmde_store::Store::create_tenant(
        store.as_ref(),
        "22222222-3333-4444-5555-666666666666",
        "Fabrikam",
        "fabrikam.onmicrosoft.com",
    )
    .await
    .unwrap();
    let foreign = crate::helpers::create_app(store.as_ref(), &other, "fabrikam", vec!["Machine.Read.All".into()]).await;
    let c = &server.credentials;
    let (id, secret) = (Some(c.client_id.as_str()), Some(c.client_secret.as_str()));
    let scope = Some("https://api.securitycenter.microsoft.com/.default");
    let cc = Some("client_credentials");
    let unknown = "11111111-2222-3333-4444-555555555555";
    let own = server.tenant();
    let v2 = "oauth2/v2.0/token";
    let v1 = "oauth2/token";
    let two_scopes = "https://api.securitycenter.microsoft.com/.default https://graph.microsoft.com/.default";
    let creds = |client: Option<&str>, secret: Option<&str>, scope: Option<&str>| {
        form(&[
            ("grant_type", cc),
            ("client_id", client),
            ("client_secret", secret),
            ("scope", scope),
        ])
    };
    let v1_creds = |resource: Option<&str>| {
        form(&[
            ("grant_type", cc),
            ("client_id", id),
            ("client_secret", secret),
            ("resource", resource),
        ])
    };
    let (foreign_id, foreign_secret) = (Some(foreign.client_id.as_str()), Some(foreign.client_secret.as_str()));
    let delegated = Some("https://api.securitycenter.microsoft.com/Machine.Read");
    let cases: Vec<Refusal> = vec![
        (
            "domain unknown",
            "nosuchtenant.onmicrosoft.com",
            v2,
            creds(id, secret, scope),
            400,
            "invalid_tenant",
            90002,
        ),
        (
            "GUID unknown",
            unknown,
            v2,
            creds(id, secret, scope),
            400,
            "invalid_tenant",
            90002,
        ),
        (
            "common",
            "common",
            v2,
            creds(id, secret, scope),
            400,
            "invalid_request",
            50059,
        ),
        (
            "unknown client",
            own,
            v2,
            creds(Some(unknown), secret, scope),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "foreign client",
            own,
            v2,
            creds(foreign_id, foreign_secret, scope),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "client id not a GUID",
            own,
            v2,
            creds(Some("x"), secret, scope),
            400,
            "invalid_request",
            700038,
        ),
        (
            "no client id",
            own,
            v2,
            creds(None, secret, scope),
            400,
            "invalid_request",
            900144,
        ),
        (
            "wrong secret",
            own,
            v2,
            creds(id, Some("wrong"), scope),
            401,
            "invalid_client",
            7000215,
        ),
        (
            "no secret",
            own,
            v2,
            creds(id, None, scope),
            401,
            "invalid_client",
            7000218,
        ),
        (
            "delegated scope",
            own,
            v2,
            creds(id, secret, delegated),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            "two scopes",
            own,
            v2,
            creds(id, secret, Some(two_scopes)),
            400,
            "invalid_scope",
            1002012,
        ),
        (
            "unknown resource",
            own,
            v2,
            creds(id, secret, Some("https://graph.microsoft.com/.default")),
            400,
            "invalid_resource",
            500011,
        ),
        (
            "no scope",
            own,
            v2,
            creds(id, secret, None),
            400,
            "invalid_request",
            900144,
        ),
        (
            "password grant without a username",
            own,
            v2,
            form(&[("grant_type", Some("password")), ("client_id", id), ("scope", scope)]),
            400,
            "invalid_request",
            900144,
        ),
        (
            "authorization code grant",
            own,
            v2,
            form(&[
                ("grant_type", Some("authorization_code")),
                ("client_id", id),
                ("scope", scope),
            ]),
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            "no grant",
            own,
            v2,
            form(&[("client_id", id), ("client_secret", secret), ("scope", scope)]),
            400,
            "invalid_request",
            900144,
        ),
        (
            "v1 unknown resource",
            own,
            v1,
            v1_creds(Some("https://vault.azure.net")),
            400,
            "invalid_resource",
            500011,
        ),
        (
            "v1 no resource",
            own,
            v1,
            v1_creds(None),
            400,
            "invalid_request",
            900144,
        ),
    ];
    for (case, tenant, path, form, status, error, code) in cases {
        let response = server
            .client
            .post(server.url(&format!("/{tenant}/{path}")))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{case}");
        entra_error(response, status, error, code).await;
    }
    // The correlation id echoes client-request-id.
    let correlation = "0f6b2c1e-3d4a-4b5c-8d9e-0a1b2c3d4e5f";
    let response = server
        .client
        .post(server.url(&format!("/{own}/{v2}")))
        .header("client-request-id", correlation)
        .form(&form(&[
            ("grant_type", cc),
            ("client_id", id),
            ("client_secret", Some("wrong")),
            ("scope", scope),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        entra_error(response, 401, "invalid_client", 7000215).await["correlation_id"],
        correlation
    );
}

#[tokio::test]
async fn discovery_documents_point_at_this_server() {
    let server = TestServer::start().await;
    let origin = format!("https://{}", server.https);
    let tid = server.tenant();
    for tenant in [tid, "contoso.onmicrosoft.com", "CONTOSO.onmicrosoft.com"] {
        let v2: Value = server
            .get(&format!("/{tenant}/v2.0/.well-known/openid-configuration"), None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            v2["token_endpoint"],
            format!("{origin}/{tid}/oauth2/v2.0/token"),
            "GUID endpoints for {tenant}"
        );
        assert_eq!(
            v2["authorization_endpoint"],
            format!("{origin}/{tid}/oauth2/v2.0/authorize")
        );
        assert_eq!(
            v2["device_authorization_endpoint"],
            format!("{origin}/{tid}/oauth2/v2.0/devicecode")
        );
        assert_eq!(v2["jwks_uri"], format!("{origin}/{tid}/discovery/v2.0/keys"));
        assert_eq!(v2["issuer"], format!("{origin}/{tid}/v2.0"));
    }
    let v1: Value = server
        .get(&format!("/{tid}/.well-known/openid-configuration"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v1["issuer"], format!("https://sts.windows.net/{tid}/"));
    assert_eq!(v1["token_endpoint"], format!("{origin}/{tid}/oauth2/token"));
    let common: Value = server
        .get("/organizations/v2.0/.well-known/openid-configuration", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        common["token_endpoint"],
        format!("{origin}/organizations/oauth2/v2.0/token")
    );
    assert_eq!(common["issuer"], format!("{origin}/{{tenantid}}/v2.0"));
    let unknown = server
        .get(
            "/nosuchtenant.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            None,
        )
        .await;
    entra_error(unknown, 400, "invalid_tenant", 90002).await;
}

mod certificates {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey};
    use serde_json::{Value, json};

    use crate::helpers::{TestServer, claims, now};

    const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

    /// A self-signed RSA certificate (DER) and its private key (PEM).
    fn certificate() -> (Vec<u8>, String) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["soar.example".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.der().to_vec(), key.serialize_pem())
    }

    fn thumbprint(algorithm: &'static aws_lc_rs::digest::Algorithm, der: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(algorithm, der))
    }

    /// An assertion signed over exactly the text sent; `pad` adds base64 padding to the segments.
    fn assertion(header: &Value, claims: &Value, key_pem: &str, algorithm: Algorithm, pad: bool) -> String {
        let encode = |value: &Value| {
            let mut text = URL_SAFE_NO_PAD.encode(value.to_string());
            while pad && !text.len().is_multiple_of(4) {
                text.push('=');
            }
            text
        };
        let signed = format!("{}.{}", encode(header), encode(claims));
        let key = EncodingKey::from_rsa_pem(key_pem.as_bytes()).unwrap();
        let signature = jsonwebtoken::crypto::sign(signed.as_bytes(), &key, algorithm).unwrap();
        format!("{signed}.{signature}")
    }

    async fn post(server: &TestServer, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = server.client.post(server.url(path)).form(form).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    #[tokio::test]
    async fn applications_authenticate_with_a_registered_certificate() {
        let server = TestServer::start().await;
        let (der, key) = certificate();
        let client_id = server.credentials.client_id.clone();
        server.store().add_app_certificate(&client_id, &der).await.unwrap();
        let v2 = format!("/{}/oauth2/v2.0/token", server.tenant());
        let audience = format!("https://{}{v2}", server.https);
        let now = now() as f64;
        let good_claims = json!({"aud": audience, "iss": client_id, "sub": client_id, "jti": "1",
            "exp": now + 600.5, "nbf": now - 0.25, "iat": now});
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t#S256": thumbprint(&aws_lc_rs::digest::SHA256, &der)});
        let scope = "https://api.securitycenter.microsoft.com/.default";
        let grant = |assertion: String| {
            vec![
                ("grant_type", "client_credentials".to_string()),
                ("client_id", client_id.clone()),
                ("client_assertion_type", JWT_BEARER.to_string()),
                ("client_assertion", assertion),
                ("scope", scope.to_string()),
            ]
        };
        let send = |form: Vec<(&'static str, String)>, path: String| {
            let server = &server;
            async move {
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                post(server, &path, &form).await
            }
        };

        let (status, body) = send(
            grant(assertion(&header, &good_claims, &key, Algorithm::RS256, false)),
            v2.clone(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            claims(body["access_token"].as_str().unwrap()).appidacr.as_deref(),
            Some("2")
        );

        // PS256, the SHA-1 thumbprint, padded segments, the v1 endpoint and the tenant's domain.
        let v1 = "/contoso.onmicrosoft.com/oauth2/token".to_string();
        let v1_claims = json!({"aud": format!("https://login.microsoftonline.com{v1}"), "iss": client_id,
            "sub": client_id, "exp": now + 600.0});
        let sha1_header =
            json!({"alg": "PS256", "x5t": thumbprint(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &der)});
        let mut form = grant(assertion(&sha1_header, &v1_claims, &key, Algorithm::PS256, true));
        form.pop();
        form.push(("resource", "https://api.securitycenter.microsoft.com".into()));
        let (status, body) = send(form, v1).await;
        assert_eq!(status, 200, "{body}");

        let (other_der, other_key) = certificate();
        let other_header = json!({"alg": "RS256", "x5t#S256": thumbprint(&aws_lc_rs::digest::SHA256, &other_der)});
        let signed_by_other = assertion(&header, &good_claims, &other_key, Algorithm::RS256, false);
        let good = assertion(&header, &good_claims, &key, Algorithm::RS256, false);
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD
            .encode(json!({"aud": audience, "iss": client_id, "sub": client_id, "exp": now + 9e6}).to_string());
        let tampered = parts.join(".");
        let with = |changes: Value| {
            let mut claims = good_claims.clone();
            claims
                .as_object_mut()
                .unwrap()
                .extend(changes.as_object().unwrap().clone());
            assertion(&header, &claims, &key, Algorithm::RS256, false)
        };
        for (case, sent, code) in [
            (
                "unregistered certificate",
                assertion(&other_header, &good_claims, &other_key, Algorithm::RS256, false),
                700027,
            ),
            ("signed by another key", signed_by_other, 700027),
            ("tampered payload", tampered, 700027),
            ("expired", with(json!({"exp": now - 120.0})), 700024),
            ("not yet valid", with(json!({"nbf": now + 600.0})), 700024),
            (
                "another audience",
                with(json!({"aud": "https://login.microsoftonline.com/other/oauth2/v2.0/token"})),
                700021,
            ),
            ("another issuer", with(json!({"iss": "someone"})), 700021),
            ("not a JWT", "abc".to_string(), 700027),
        ] {
            let (status, body) = send(grant(sent), v2.clone()).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (401, Some("invalid_client")),
                "{case}: {body}"
            );
            assert_eq!(body["error_codes"][0], code, "{case}: {body}");
        }
        let mut wrong_type = grant(good);
        wrong_type[2].1 = "urn:other".into();
        let (status, body) = send(wrong_type, v2).await;
        assert_eq!((status, body["error_codes"][0].as_i64()), (401, Some(700027)));
    }
}
