//! The binary itself: first start, `apps create` beside a running server, `import` exit codes.

use std::process::Command;

use serde_json::Value;

use crate::helpers::{TestServer, database_args, database_url};

fn openmde(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_openmde"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(database_args(data_dir))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn first_start_writes_private_credentials_and_the_demo_fleet() {
    let server = TestServer::start().await;
    let path = server.dir.path().join("credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let ca_key = server.dir.path().join("tls/ca-key.pem");
        assert_eq!(std::fs::metadata(ca_key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for field in [
        "tenantId",
        "clientId",
        "clientSecret",
        "sampleAlertId",
        "userPrincipalName",
        "userPassword",
    ] {
        assert!(stored[field].is_string(), "{field}");
    }
    // The demo user signs in with the printed password.
    let response = server
        .client
        .post(server.url(&format!("/{}/oauth2/v2.0/token", server.tenant())))
        .form(&[
            ("grant_type", "password"),
            ("client_id", stored["clientId"].as_str().unwrap()),
            ("username", stored["userPrincipalName"].as_str().unwrap()),
            ("password", stored["userPassword"].as_str().unwrap()),
            ("scope", "https://api.securitycenter.microsoft.com/Machine.Read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (machines, alerts) = counts(&server).await;
    assert_eq!((machines, alerts), (50, 200));
    // A restart keeps the same tenant, CA and data, and creates nothing new.
    let ca_before = std::fs::read(server.dir.path().join("tls/ca.pem")).unwrap();
    let credentials = server.credentials.clone();
    let dir = server.stop().await;
    let again = TestServer::start_in(dir, |_| {}).await;
    assert_eq!(again.credentials, credentials);
    assert_eq!(std::fs::read(again.dir.path().join("tls/ca.pem")).unwrap(), ca_before);
    assert_eq!(counts(&again).await, (50, 200));
    let token = again.token().await;
    assert_eq!(again.machine_status(again.sample_alert(), &token).await, 200);
}

/// Machines and alerts in the server's store, of every tenant, as a new process sees them.
async fn counts(server: &TestServer) -> (u64, u64) {
    use openmde_store::query::EntitySet;
    let dir = server.dir.path();
    let store = openmde::bootstrap::open_store(database_url(dir).as_deref(), &dir.join("openmde.db"), 1)
        .await
        .unwrap();
    let (mut machines, mut alerts) = (0, 0);
    for tenant in store.tenants().await.unwrap() {
        machines += openmde::copy::count(store.as_ref(), &tenant, EntitySet::Machines)
            .await
            .unwrap();
        alerts += openmde::copy::count(store.as_ref(), &tenant, EntitySet::Alerts)
            .await
            .unwrap();
    }
    (machines, alerts)
}

#[tokio::test]
async fn no_demo_creates_credentials_but_no_fleet() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    assert_eq!(counts(&server).await, (0, 0));
    assert!(server.credentials.sample_alert_id.is_none());
    server.token().await;
}

#[tokio::test]
async fn apps_create_works_while_the_server_runs() {
    let server = TestServer::start().await;
    let output = openmde(
        server.dir.path(),
        &[
            "apps",
            "create",
            "--name",
            "SOAR",
            "--role",
            "Machine.Read.All",
            "--json",
        ],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        created.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["tenantId", "clientId", "clientSecret", "roles"]
    );
    assert_eq!(created["tenantId"], server.tenant());
    let token = server
        .token_for(
            created["clientId"].as_str().unwrap(),
            created["clientSecret"].as_str().unwrap(),
        )
        .await;
    let claims = crate::helpers::claims(&token);
    assert_eq!(claims.roles, ["Machine.Read.All"]);
    assert_eq!(claims.app_displayname.as_deref(), Some("SOAR"));
    assert_eq!(server.machine_status(server.sample_alert(), &token).await, 200);

    // A new secret works at once; the old one is refused (the token endpoint's own tests say how).
    let client_id = created["clientId"].as_str().unwrap();
    let reset = openmde(server.dir.path(), &["apps", "reset-secret", client_id, "--json"]);
    assert!(reset.status.success(), "{}", String::from_utf8_lossy(&reset.stderr));
    let reset: Value = serde_json::from_slice(&reset.stdout).unwrap();
    assert_eq!(reset["clientId"], client_id);
    assert_ne!(reset["clientSecret"], created["clientSecret"]);
    server
        .token_for(client_id, reset["clientSecret"].as_str().unwrap())
        .await;
    let unknown = openmde(server.dir.path(), &["apps", "reset-secret", "no-such-app"]);
    assert!(!unknown.status.success());

    let refused = openmde(
        server.dir.path(),
        &["apps", "create", "--name", "x", "--role", "Machine.Fly"],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown permission 'Machine.Fly'"));
    let refused = openmde(
        server.dir.path(),
        &[
            "apps",
            "create",
            "--name",
            "x",
            "--role",
            "Machine.Read.All",
            "--tenant",
            "nope",
        ],
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no tenant 'nope'"));
}

#[tokio::test]
async fn import_and_generate_from_the_command_line() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    let out = tempfile::tempdir().unwrap();
    let generated = openmde(
        server.dir.path(),
        &[
            "generate",
            "--machines",
            "20",
            "--alerts",
            "100",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let files = [out.path().join("machines.json"), out.path().join("alerts.json")];
    let imported = openmde(
        server.dir.path(),
        &["import", files[0].to_str().unwrap(), files[1].to_str().unwrap()],
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let stdout = String::from_utf8_lossy(&imported.stdout);
    assert!(
        stdout.contains("20 machines, 0 alerts") && stdout.contains("0 machines, 100 alerts"),
        "{stdout}"
    );
    let ids = std::fs::read_to_string(out.path().join("alert-ids.txt")).unwrap();
    let token = server.token().await;
    let lines: Vec<&str> = ids.lines().collect();
    assert!(lines.len() > 70);
    // Another process's import is visible to the server within its snapshot age.
    let deadline = std::time::Instant::now() + openmde_store::sqlite::SNAPSHOT_MAX_AGE * 4;
    let first = format!("/api/alerts/{}/machine", lines[0]);
    while server.get(&first, Some(&token)).await.status() != 200 {
        assert!(std::time::Instant::now() < deadline, "the import stayed unseen");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for id in lines.iter().take(10) {
        let path = format!("/api/alerts/{id}/machine");
        assert_eq!(server.get(&path, Some(&token)).await.status(), 200, "{id}");
    }
    std::fs::write(out.path().join("bad.json"), "[{\"id\": 5}]").unwrap();
    let failed = openmde(
        server.dir.path(),
        &["import", out.path().join("bad.json").to_str().unwrap()],
    );
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("record 0") && stderr.contains("nothing from this file was imported"),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_import_killed_midway_leaves_the_store_as_it_was() {
    let server = TestServer::start().await;
    let out = tempfile::tempdir().unwrap();
    let generated = openmde(
        server.dir.path(),
        &[
            "generate",
            "--machines",
            "100",
            "--alerts",
            "40000",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert!(generated.status.success());
    let before = counts(&server).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_openmde"))
        .arg("--data-dir")
        .arg(server.dir.path())
        .args(database_args(server.dir.path()))
        .args(["import", out.path().join("alerts.json").to_str().unwrap()])
        .spawn()
        .unwrap();
    // Long enough to be inside the transaction, well short of its end.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import finished too soon to be interrupted"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(counts(&server).await, before);
    if database_url(server.dir.path()).is_none() {
        assert_eq!(sqlite_integrity(&server.dir.path().join("openmde.db")), "ok");
    }
    let token = server.token().await;
    assert_eq!(server.machine_status(server.sample_alert(), &token).await, 200);
}

/// What SQLite's integrity check says of a database file.
fn sqlite_integrity(path: &std::path::Path) -> String {
    let check = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&check.stdout).trim().to_string()
}

#[tokio::test]
async fn a_certificate_of_your_own_replaces_the_local_ca() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["mde.corp.example".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::NoCa;
    let own = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (dir.path().join("own.pem"), dir.path().join("own-key.pem"));
    std::fs::write(&cert_path, own.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(data, |o| o.tls_cert = Some((cert_path, key_path))).await;
    let client = crate::helpers::client_trusting(own.pem().as_bytes(), &[("mde.corp.example", server.https)]);
    let url = format!(
        "https://mde.corp.example:{}/{}/v2.0/.well-known/openid-configuration",
        server.https.port(),
        server.tenant()
    );
    let discovery: Value = client.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        discovery["token_endpoint"],
        format!(
            "https://mde.corp.example:{}/{}/oauth2/v2.0/token",
            server.https.port(),
            server.tenant()
        )
    );
    // No local CA is made when the user brings a certificate.
    assert!(!server.dir.path().join("tls/ca.pem").exists());
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs_and_old_tokens_stay_valid() {
    let server = TestServer::start_with(|o| {
        o.key_activation_delay_seconds = 3;
        o.key_reload_interval = std::time::Duration::from_millis(100);
    })
    .await;
    let before = server.token().await;
    let old_kid = crate::helpers::header(&before)["kid"].as_str().unwrap().to_string();
    let output = openmde(server.dir.path(), &["keys", "rotate", "--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let rotated = std::time::Instant::now();
    let added: Value = serde_json::from_slice(&output.stdout).unwrap();
    let new_kid = added["kid"].as_str().unwrap().to_string();
    assert_ne!(new_kid, old_kid);

    let published = || async {
        let jwks: Value = server
            .get(&format!("/{}/discovery/v2.0/keys", server.tenant()), None)
            .await
            .json()
            .await
            .unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    while !published().await.contains(&new_kid) {
        assert!(rotated.elapsed().as_secs() < 2, "the new key was not published");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let during = server.token().await;
    assert!(
        rotated.elapsed().as_secs() < 3,
        "too slow to see the key before it signs"
    );
    assert_eq!(
        crate::helpers::header(&during)["kid"],
        old_kid.as_str(),
        "signed before its delay"
    );

    loop {
        let after = server.token().await;
        if crate::helpers::header(&after)["kid"] == new_kid.as_str() {
            assert_eq!(server.machine_status(server.sample_alert(), &after).await, 200);
            break;
        }
        assert!(rotated.elapsed().as_secs() < 8, "the new key never signed");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        rotated.elapsed().as_millis() >= 2_500,
        "signed before its activation delay"
    );
    // Tokens of the old key stay valid, and both keys stay published.
    assert_eq!(server.machine_status(server.sample_alert(), &before).await, 200);
    assert!(published().await.contains(&old_kid));

    let output = openmde(server.dir.path(), &["keys", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let kids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [old_kid.as_str(), new_kid.as_str()]);
}

/// Runs `openmde` and returns its JSON output, asserting success.
fn openmde_json(data_dir: &std::path::Path, args: &[&str]) -> Value {
    let output = openmde(data_dir, args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[tokio::test]
async fn management_commands_set_up_access_that_a_running_server_applies() {
    let server = TestServer::start().await;
    let dir = server.dir.path();
    let group = openmde_json(dir, &["groups", "create", "--name", "Ops", "--json"]);
    assert_eq!(group["displayName"], "Ops");
    let upn = "ops@contoso.onmicrosoft.com";
    let user = openmde_json(
        dir,
        &[
            "users",
            "create",
            "--upn",
            upn,
            "--name",
            "Ops",
            "--group",
            "ops",
            "--password",
            "pw-ops",
            "--json",
        ],
    );
    assert_eq!(user["upn"], upn);
    let role = openmde_json(
        dir,
        &[
            "roles",
            "create",
            "--name",
            "Viewers",
            "--permission",
            "view-data",
            "--group",
            "Ops",
            "--json",
        ],
    );
    assert_eq!(role["permissions"], serde_json::json!(["view-data"]));
    assert_eq!(role["userGroups"][0]["displayName"], "Ops");
    let servers = openmde_json(
        dir,
        &[
            "device-groups",
            "create",
            "--name",
            "Servers",
            "--rank",
            "1",
            "--group",
            "Ops",
            "--rule",
            "os in WindowsServer2019, WindowsServer2022, Linux",
            "--json",
        ],
    );
    assert_eq!(servers["priority"], 1);
    assert!(servers["deviceCount"].as_u64().unwrap() > 0, "{servers}");
    assert_eq!(
        servers["deviceGroupRules"]["devicesOsConditions"][0]["valuesList"],
        serde_json::json!(["WindowsServer2019", "WindowsServer2022", "Linux"])
    );

    // Servers, and the Ungrouped group (open to every user until assigned).
    let token = server.user_token(upn, "pw-ops").await;
    let groups_listed = || async {
        let body: Value = server.get_json("/api/machines?$top=10000", &token).await;
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["rbacGroupName"].as_str().unwrap_or("(ungrouped)").to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        groups_listed().await,
        ["(ungrouped)".to_string(), "Servers".into()].into()
    );
    let ungrouped = "Ungrouped devices (default)";
    let restricted = openmde_json(
        dir,
        &[
            "device-groups",
            "update",
            ungrouped,
            "--group",
            "MDE administrators",
            "--json",
        ],
    );
    assert_eq!(restricted["aadUsersGroups"][0]["displayName"], "MDE administrators");
    // Another process's change reaches the server within the access cache's lifetime.
    let deadline = std::time::Instant::now() + openmde::access::ACCESS_TTL * 2;
    while groups_listed().await != ["Servers".to_string()].into() {
        assert!(std::time::Instant::now() < deadline, "the CLI's change was not applied");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Text output: one line per item.
    let listed = openmde(dir, &["device-groups", "list"]);
    let text = String::from_utf8(listed.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains("Servers") && lines[0].contains("user groups: Ops"),
        "{text}"
    );
    assert!(lines[1].contains(ungrouped), "{text}");
    let roles = openmde_json(dir, &["roles", "list", "--json"]);
    assert_eq!(roles.as_array().unwrap().len(), 2);

    for (args, message) in [
        (
            vec!["roles", "create", "--name", "X", "--permission", "everything"],
            "unknown role permission 'everything'",
        ),
        (
            vec!["device-groups", "create", "--name", "G", "--rule", "colour equals red"],
            "unknown property 'colour'",
        ),
        (vec!["device-groups", "create", "--name", "G"], "at least one condition"),
        (
            vec!["groups", "add-member", "Ops", "nobody@contoso.onmicrosoft.com"],
            "no user",
        ),
        (vec!["device-groups", "delete", ungrouped], "cannot be deleted"),
        (
            vec!["users", "list", "--tenant", "nope.example"],
            "no tenant 'nope.example'",
        ),
    ] {
        let output = openmde(dir, &args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let tenant = openmde_json(
        dir,
        &[
            "tenants",
            "create",
            "--name",
            "Fabrikam",
            "--domain",
            "fabrikam.onmicrosoft.com",
            "--json",
        ],
    );
    let tenants = openmde_json(dir, &["tenants", "list", "--json"]);
    assert_eq!(tenants[1]["id"], tenant["id"]);
    let theirs = openmde_json(
        dir,
        &[
            "device-groups",
            "list",
            "--tenant",
            "fabrikam.onmicrosoft.com",
            "--json",
        ],
    );
    assert_eq!(
        theirs.as_array().unwrap().len(),
        1,
        "a new tenant has only its Ungrouped group"
    );
    let several = openmde(dir, &["roles", "list"]);
    assert!(String::from_utf8_lossy(&several.stderr).contains("several tenants"));
    let contoso = ["--tenant", "contoso.onmicrosoft.com"];
    let deleted = openmde(dir, &["users", "delete", upn, contoso[0], contoso[1]]);
    assert!(deleted.status.success());
    let users = openmde_json(dir, &["users", "list", contoso[0], contoso[1], "--json"]);
    assert!(users.as_array().unwrap().iter().all(|u| u["upn"] != upn));
}

#[tokio::test]
async fn copy_moves_a_whole_store_to_the_other_backend_and_back() {
    let Some(base) = crate::helpers::test_database() else {
        eprintln!("OPENMDE_TEST_DATABASE_URL is not set: skipping a PostgreSQL test");
        return;
    };
    let server = TestServer::start().await;
    let store = server.store();
    let tenant = store.tenant(server.tenant()).await.unwrap().unwrap();
    let group = openmde_access::DeviceGroup {
        rules: openmde_access::DeviceGroupRules {
            tags: vec![openmde_access::PropertyCondition {
                condition: openmde_access::Operator::Equals,
                value: "VIP".into(),
            }],
            ..Default::default()
        },
        ..openmde_access::DeviceGroup::new(0, 1, "Workstations")
    };
    store.create_device_group(tenant.key, &group).await.unwrap();
    let source = database_url(server.dir.path())
        .unwrap_or_else(|| format!("sqlite://{}", server.dir.path().join("openmde.db").display()));
    let scratch = tempfile::tempdir().unwrap();
    let schema = format!("copy_{}", uuid::Uuid::new_v4().simple());
    let postgres = openmde_store::postgres::with_schema(&base, &schema).await.unwrap();
    // Through the other backend and back to a new store of the first kind.
    let (middle, last) = if source.starts_with("sqlite://") {
        (
            postgres,
            format!("sqlite://{}", scratch.path().join("copy.db").display()),
        )
    } else {
        (
            format!("sqlite://{}", scratch.path().join("copy.db").display()),
            postgres,
        )
    };
    for (from, to) in [(&source, &middle), (&middle, &last)] {
        let output = openmde(scratch.path(), &["copy", "--from", from, "--to", to]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert!(String::from_utf8_lossy(&output.stdout).contains("50 machines and 200 alerts copied"));
    }
    let again = openmde(scratch.path(), &["copy", "--from", &source, "--to", &last]);
    assert!(!again.status.success(), "a copy into a store with tenants");

    let copy = openmde::bootstrap::open_store(Some(&last), std::path::Path::new(""), 1)
        .await
        .unwrap();
    let copied = copy.tenant(server.tenant()).await.unwrap().unwrap();
    let since = openmde_model::Timestamp(0);
    assert_eq!(
        copy.alert_machine(copied.key, server.sample_alert(), since)
            .await
            .unwrap(),
        store
            .alert_machine(tenant.key, server.sample_alert(), since)
            .await
            .unwrap()
    );
    let names = |groups: Vec<openmde_store::DeviceGroupRecord>| -> Vec<(String, u64)> {
        groups.into_iter().map(|g| (g.group.name, g.device_count)).collect()
    };
    assert_eq!(
        names(copy.device_groups(copied.key).await.unwrap()),
        names(store.device_groups(tenant.key).await.unwrap())
    );
    let upns = |users: Vec<openmde_store::UserRecord>| -> Vec<String> { users.into_iter().map(|u| u.upn).collect() };
    assert_eq!(
        upns(copy.users(copied.key).await.unwrap()),
        upns(store.users(tenant.key).await.unwrap())
    );
    assert_eq!(copy.signing_keys().await.unwrap(), store.signing_keys().await.unwrap());
    assert!(copy.app(&server.credentials.client_id).await.unwrap().is_some());
    let members = |groups: Vec<openmde_access::UserGroup>| -> Vec<(String, usize)> {
        groups.into_iter().map(|g| (g.display_name, g.members.len())).collect()
    };
    assert_eq!(
        members(copy.user_groups(copied.key).await.unwrap()),
        members(store.user_groups(tenant.key).await.unwrap())
    );
}

#[tokio::test]
async fn migrate_prepares_an_empty_store_that_other_commands_then_use() {
    let dir = tempfile::tempdir().unwrap();
    // A store of the backend under test: its schema is made, its tables are not.
    let _ = crate::helpers::new_store_options(dir.path()).await;
    let migrated = openmde(dir.path(), &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    assert!(String::from_utf8_lossy(&migrated.stdout).contains("up to date"));
    let again = openmde(dir.path(), &["migrate"]);
    assert!(again.status.success(), "migrating twice changes nothing");
    let tenants = openmde(dir.path(), &["tenants", "list", "--json"]);
    assert!(tenants.status.success(), "{}", String::from_utf8_lossy(&tenants.stderr));
    assert_eq!(
        serde_json::from_slice::<Value>(&tenants.stdout).unwrap(),
        serde_json::json!([])
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_openmde"))
        .args(["--database-url", "mysql://localhost/db", "migrate"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("postgres://"));
}
