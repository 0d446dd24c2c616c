//! Role-based access: roles, user groups and device groups set up through the admin API, and
//! what delegated tokens then reach on every endpoint.

use std::collections::BTreeSet;

use openmde_model::{EntityKind, Timestamp};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestServer, assert_mde_error};

const PASSWORD: &str = "correct horse battery staple";
const TIER1: &str = "tier1@contoso.onmicrosoft.com";
const TIER2: &str = "tier2@contoso.onmicrosoft.com";
const NO_ROLE: &str = "norole@contoso.onmicrosoft.com";
const WEB1_TAGS: &str = "/api/machines/web1/tags";

/// Machines (and one alert each, `a-{machine}`):
/// - `web1` web1.corp.contoso.com, tagged Lab: "Web" (rank 1, name and domain rule, Tier1) and
///   "Lab" (rank 3) both match; rank 1 wins.
/// - `db1` db1.corp.contoso.com, Linux: "Servers" (rank 2, OS rule, Tier2).
/// - `lab1` lab1.lab.contoso.com, tagged lab: "Lab" (rank 3, tag rule, no user groups: everyone).
/// - `pc1` pc1.contoso.com: Ungrouped, assigned to Tier2.
///
/// Roles: "Analysts" (view-data) for Tier1; "Responders" (view-data, alerts-investigation) for
/// Tier2; NoRole's group has none.
struct Rbac {
    server: TestServer,
    tier1: String,
    tier2: String,
    no_role: String,
    admin: String,
    app: String,
}

fn tenant_path(server: &TestServer, path: &str) -> String {
    format!("/admin/tenants/{}{path}", server.tenant())
}

async fn created(server: &TestServer, path: &str, body: Value) -> Value {
    let (status, answer) = server.admin(Method::POST, &tenant_path(server, path), Some(body)).await;
    assert_eq!(status, 201, "{path}: {answer}");
    answer
}

async fn rbac() -> Rbac {
    let server = TestServer::start_with(|o| o.demo = false).await;
    let now = Timestamp::now().to_string();
    let machines = [
        ("web1", "web1.corp.contoso.com", json!(["Lab"]), "Windows10"),
        ("db1", "db1.corp.contoso.com", json!([]), "Linux"),
        ("lab1", "lab1.lab.contoso.com", json!(["lab"]), "Windows11"),
        ("pc1", "pc1.contoso.com", json!([]), "Windows10"),
    ];
    let docs = machines
        .iter()
        .map(|(id, name, tags, os)| {
            json!({"id": id, "computerDnsName": name, "machineTags": tags, "osPlatform": os,
            "firstSeen": "2020-01-01T00:00:00Z", "lastSeen": now, "lastIpAddress": "10.1.0.1",
            "rbacGroupId": 77, "rbacGroupName": "imported"})
        })
        .collect();
    server.import(EntityKind::Machine, docs).await;
    let alerts = machines
        .iter()
        .map(|(id, ..)| {
            json!({"id": format!("a-{id}"), "machineId": id, "title": format!("on {id}"),
            "lastUpdateTime": now, "status": "New", "rbacGroupName": "imported",
            "evidence": [{"entityType": "User", "evidenceCreationTime": now, "accountName": format!("user-{id}"),
                "domainName": "CONTOSO"}]})
        })
        .collect();
    server.import(EntityKind::Alert, alerts).await;

    for group in ["Tier1", "Tier2", "NoRole"] {
        created(&server, "/groups", json!({"displayName": group})).await;
    }
    for (upn, group) in [(TIER1, "Tier1"), (TIER2, "Tier2"), (NO_ROLE, "NoRole")] {
        let user = json!({"upn": upn, "displayName": upn, "password": PASSWORD, "groups": [group]});
        created(&server, "/users", user).await;
    }
    let analysts = json!({"name": "Analysts", "permissions": ["view-data"], "userGroups": ["Tier1"]});
    created(&server, "/roles", analysts).await;
    let responders = json!({"name": "Responders", "permissions": ["View data", "alerts-investigation"],
        "userGroups": ["tier2"]});
    created(&server, "/roles", responders).await;
    let web = json!({"deviceGroupName": "Web", "userGroups": ["Tier1"], "deviceGroupRules": {
        "devicesNamesConditions": [{"condition": "StartsWith", "value": "web"}],
        "devicesDomainsConditions": [{"condition": "Equals", "value": "corp.contoso.com"}]}});
    created(&server, "/device-groups", web).await;
    let servers = json!({"deviceGroupName": "Servers", "userGroups": ["Tier2"], "deviceGroupRules": {
        "devicesOsConditions": [{"condition": "In", "valuesList": ["Linux", "WindowsServer2019"]}]}});
    created(&server, "/device-groups", servers).await;
    let lab = json!({"deviceGroupName": "Lab", "deviceGroupRules": {
        "devicesTagsConditions": [{"condition": "Equals", "value": "LAB"}]}});
    created(&server, "/device-groups", lab).await;
    let ungrouped = tenant_path(&server, "/device-groups/Ungrouped devices (default)");
    let (status, body) = server
        .admin(Method::PATCH, &ungrouped, Some(json!({"userGroups": ["Tier2"]})))
        .await;
    assert_eq!(status, 200, "{body}");

    let credentials = server.credentials.clone();
    Rbac {
        tier1: server.user_token(TIER1, PASSWORD).await,
        tier2: server.user_token(TIER2, PASSWORD).await,
        no_role: server.user_token(NO_ROLE, PASSWORD).await,
        admin: server
            .user_token(
                credentials.user_principal_name.as_deref().unwrap(),
                credentials.user_password.as_deref().unwrap(),
            )
            .await,
        app: server
            .app_token(&openmde_identity::resource::APPLICATION_PERMISSIONS)
            .await,
        server,
    }
}

fn ids(body: &Value) -> BTreeSet<String> {
    body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn status(server: &TestServer, path: &str, token: &str) -> u16 {
    server.get(path, Some(token)).await.status().as_u16()
}

async fn send(server: &TestServer, method: Method, path: &str, token: &str, body: Value) -> u16 {
    let response = server
        .client
        .request(method, server.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn each_machine_is_in_its_highest_ranked_group_and_follows_rule_and_tag_changes() {
    let Rbac { server, app, .. } = rbac().await;
    let group_of = |id: &'static str| {
        let (server, app) = (&server, &app);
        async move {
            let machine: Value = server.get_json(&format!("/api/machines/{id}"), app).await;
            let alert: Value = server.get_json(&format!("/api/alerts/a-{id}"), app).await;
            assert_eq!(
                alert["rbacGroupName"], machine["rbacGroupName"],
                "alert a-{id} follows its machine"
            );
            (
                machine["rbacGroupId"].as_i64().unwrap(),
                machine["rbacGroupName"].clone(),
            )
        }
    };
    let (status, groups) = server
        .admin(Method::GET, &tenant_path(&server, "/device-groups"), None)
        .await;
    assert_eq!(status, 200);
    let ranked: Vec<(&str, i64, i64)> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["deviceGroupName"].as_str().unwrap(),
                g["priority"].as_i64().unwrap(),
                g["deviceCount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ranked,
        [
            ("Web", 1, 1),
            ("Servers", 2, 1),
            ("Lab", 3, 1),
            ("Ungrouped devices (default)", 4, 1)
        ]
    );
    let keys: Vec<&String> = groups[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "priority",
            "deviceGroupName",
            "isUnassignedDeviceGroup",
            "automationLevel",
            "description",
            "deviceCount",
            "lastUpdateTime",
            "aadUsersGroups",
            "deviceGroupRules"
        ],
        "EDMX DeviceGroup order"
    );
    let web_id = groups[0]["id"].as_i64().unwrap();
    let lab_id = groups[2]["id"].as_i64().unwrap();
    assert_eq!(groups[0]["aadUsersGroups"][0]["displayName"], "Tier1");
    assert_eq!(groups[3]["isUnassignedDeviceGroup"], true);

    // Imported group fields are replaced; the Ungrouped group shows as 0 and null.
    assert_eq!(group_of("web1").await, (web_id, json!("Web")));
    assert_eq!(group_of("lab1").await, (lab_id, json!("Lab")));
    assert_eq!(group_of("pc1").await, (0, Value::Null));

    // Ranking Lab first moves web1 (tagged Lab) there.
    let lab = tenant_path(&server, "/device-groups/Lab");
    let (status, moved) = server.admin(Method::PATCH, &lab, Some(json!({"priority": 1}))).await;
    assert_eq!((status, moved["priority"].clone()), (200, json!(1)), "{moved}");
    assert_eq!(group_of("web1").await, (lab_id, json!("Lab")));

    // A tag added through the API moves the machine, and its alerts, at once.
    let tag = json!({"Value": "lab", "Action": "Add"});
    assert_eq!(
        send(&server, Method::POST, "/api/machines/pc1/tags", &app, tag).await,
        200
    );
    assert_eq!(group_of("pc1").await, (lab_id, json!("Lab")));

    // Deleting a group sends its machines to the next group they match.
    let (status, _) = server.admin(Method::DELETE, &lab, None).await;
    assert_eq!(status, 204);
    assert_eq!(group_of("web1").await, (web_id, json!("Web")));
    assert_eq!(group_of("pc1").await, (0, Value::Null));
    let (_, groups) = server
        .admin(Method::GET, &tenant_path(&server, "/device-groups"), None)
        .await;
    let ranks: Vec<i64> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["priority"].as_i64().unwrap())
        .collect();
    assert_eq!(ranks, [1, 2, 3], "ranks close up, Ungrouped last");
}

#[tokio::test]
async fn users_list_only_their_device_groups_and_find_nothing_outside_them() {
    let rbac = rbac().await;
    let server = &rbac.server;
    let now = Timestamp::now();
    let visible = [
        (&rbac.tier1, set(&["web1", "lab1"])),
        (&rbac.tier2, set(&["db1", "lab1", "pc1"])),
        (&rbac.admin, set(&["web1", "db1", "lab1", "pc1"])),
        (&rbac.app, set(&["web1", "db1", "lab1", "pc1"])),
    ];
    for (token, machines) in &visible {
        let alerts: BTreeSet<String> = machines.iter().map(|m| format!("a-{m}")).collect();
        let listed: Value = server.get_json("/api/machines", token).await;
        assert_eq!(ids(&listed), *machines);
        let listed: Value = server.get_json("/api/alerts", token).await;
        assert_eq!(ids(&listed), alerts);
        let count = server
            .get("/api/alerts/$count", Some(token))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(count, alerts.len().to_string());
        let count = server
            .get("/api/machines/$count", Some(token))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(count, machines.len().to_string());
        let filtered: Value = server
            .get_json("/api/alerts?$filter=status eq 'New'&$count=true", token)
            .await;
        assert_eq!(filtered["@odata.count"], alerts.len());
        let tagged: Value = server
            .get_json("/api/machines/findbytag?tag=lab&useStartsWithFilter=true", token)
            .await;
        let lab_tagged = set(&["web1", "lab1"]);
        assert_eq!(ids(&tagged), machines.intersection(&lab_tagged).cloned().collect());
        // Every machine shares one address.
        let by_ip: Value = server
            .get_json(&format!("/api/machines/findbyip(ip='10.1.0.1',timestamp={now})"), token)
            .await;
        assert_eq!(ids(&by_ip), *machines);

        for machine in ["web1", "db1", "lab1", "pc1"] {
            let expected = if machines.contains(machine) { 200 } else { 404 };
            let alert = format!("a-{machine}");
            for path in crate::helpers::reads_of(&alert, machine) {
                let response = server.get(&path, Some(token)).await;
                if expected == 404 {
                    let message = assert_mde_error(response, 404, "ResourceNotFound").await;
                    assert!(!message.contains("group"), "no hint of why: {message}");
                } else {
                    let code = response.status();
                    assert_eq!(code, 200, "{path}: {}", response.text().await.unwrap());
                }
            }
        }
    }
    // The DNS name finds a machine as its id does, and is just as hidden.
    assert_eq!(
        status(server, "/api/machines/db1.corp.contoso.com", &rbac.tier1).await,
        404
    );
    assert_eq!(
        status(server, "/api/machines/db1.corp.contoso.com", &rbac.tier2).await,
        200
    );
}

#[tokio::test]
async fn writes_need_the_role_permission_and_a_device_in_reach() {
    let rbac = rbac().await;
    let server = &rbac.server;
    let resolve = json!({"status": "Resolved"});
    // Tier1 may read but not investigate.
    assert_eq!(status(server, "/api/alerts/a-web1", &rbac.tier1).await, 200);
    let refused = server
        .client
        .patch(server.url("/api/alerts/a-web1"))
        .bearer_auth(&rbac.tier1)
        .json(&resolve)
        .send()
        .await
        .unwrap();
    let message = assert_mde_error(refused, 403, "Forbidden").await;
    assert!(message.contains("'Alerts investigation'"), "{message}");
    let tag = json!({"Value": "x", "Action": "Add"});
    assert_eq!(
        send(server, Method::POST, WEB1_TAGS, &rbac.tier1, tag.clone()).await,
        403
    );

    // Tier2 investigates alerts of its groups only; outside them, 404 and nothing changes.
    assert_eq!(
        send(server, Method::PATCH, "/api/alerts/a-db1", &rbac.tier2, resolve.clone()).await,
        200
    );
    assert_eq!(
        send(
            server,
            Method::PATCH,
            "/api/alerts/a-web1",
            &rbac.tier2,
            resolve.clone()
        )
        .await,
        404
    );
    let batch = json!({"alertIds": ["a-pc1", "a-web1"], "status": "Resolved"});
    assert_eq!(
        send(server, Method::POST, "/api/alerts/batchUpdate", &rbac.tier2, batch).await,
        404
    );
    for alert in ["a-pc1", "a-web1"] {
        let unchanged: Value = server.get_json(&format!("/api/alerts/{alert}"), &rbac.app).await;
        assert_eq!(unchanged["status"], "New", "{alert}");
    }
    let by_reference = |machine: &str| {
        json!({"machineId": machine, "severity": "Low", "title": "t", "description": "d",
            "recommendedAction": "r", "eventTime": Timestamp::now().to_string(), "reportId": "1", "category": "Malware"})
    };
    let create = "/api/alerts/CreateAlertByReference";
    assert_eq!(
        send(server, Method::POST, create, &rbac.tier2, by_reference("web1")).await,
        404
    );
    assert_eq!(
        send(server, Method::POST, create, &rbac.tier2, by_reference("db1")).await,
        200
    );
    // Tags: 'Alerts investigation' is enough; the device value needs 'Manage security settings'.
    assert_eq!(
        send(server, Method::POST, "/api/machines/db1/tags", &rbac.tier2, tag.clone()).await,
        200
    );
    assert_eq!(
        send(server, Method::POST, WEB1_TAGS, &rbac.tier2, tag.clone()).await,
        404
    );
    let multiple = json!({"MachineIds": ["db1", "web1"], "Value": "y", "Action": "Add"});
    let path = "/api/machines/AddOrRemoveTagForMultipleMachines";
    assert_eq!(send(server, Method::POST, path, &rbac.tier2, multiple).await, 404);
    let db1: Value = server.get_json("/api/machines/db1", &rbac.app).await;
    assert_eq!(
        db1["machineTags"],
        json!(["x"]),
        "nothing of the refused batch was written"
    );
    let patch = json!({"machineTags": ["z"]});
    assert_eq!(
        send(server, Method::PATCH, "/api/machines/db1", &rbac.tier2, patch.clone()).await,
        200
    );
    assert_eq!(
        send(server, Method::PATCH, "/api/machines/web1", &rbac.tier2, patch.clone()).await,
        404
    );
    assert_eq!(
        send(server, Method::PATCH, "/api/machines/web1", &rbac.tier1, patch).await,
        403
    );
    let web1: Value = server.get_json("/api/machines/web1", &rbac.app).await;
    assert_eq!(web1["machineTags"], json!(["Lab"]), "refused writes wrote nothing");
    let value = json!({"DeviceValue": "High"});
    let set_value = "/api/machines/db1/setDeviceValue";
    assert_eq!(
        send(server, Method::POST, set_value, &rbac.tier2, value.clone()).await,
        403
    );
    assert_eq!(send(server, Method::POST, set_value, &rbac.admin, value).await, 200);

    // A second role of Tier1's adds 'Manage security settings': the device value and tags of
    // its own devices, still nothing outside them.
    let settings = json!({"name": "Settings", "permissions": ["manage-security-settings"], "userGroups": ["Tier1"]});
    created(server, "/roles", settings).await;
    let low = json!({"DeviceValue": "Low"});
    let web1_value = "/api/machines/web1/setDeviceValue";
    assert_eq!(
        send(server, Method::POST, web1_value, &rbac.tier1, low.clone()).await,
        200
    );
    assert_eq!(send(server, Method::POST, set_value, &rbac.tier1, low).await, 404);
    assert_eq!(
        send(server, Method::POST, WEB1_TAGS, &rbac.tier1, tag.clone()).await,
        200
    );
    let still: Value = server.get_json("/api/alerts/a-web1", &rbac.app).await;
    assert_eq!(still["status"], "New", "no alert rights came with it");

    // No role: every call is refused, with the permission named.
    for path in [
        "/api/machines",
        "/api/alerts",
        "/api/machines/lab1",
        "/api/alerts/a-lab1/machine",
    ] {
        let message = assert_mde_error(server.get(path, Some(&rbac.no_role)).await, 403, "Forbidden").await;
        assert!(message.contains("'View data'"), "{path}: {message}");
    }
}

#[tokio::test]
async fn role_and_group_changes_apply_to_the_next_call() {
    let rbac = rbac().await;
    let server = &rbac.server;
    assert_eq!(status(server, "/api/machines/db1", &rbac.tier1).await, 404);
    // Tier1 joins Tier2: its token now reaches the Servers group too.
    let member = tenant_path(server, &format!("/groups/Tier2/members/{TIER1}"));
    assert_eq!(server.admin(Method::PUT, &member, None).await.0, 204);
    assert_eq!(status(server, "/api/machines/db1", &rbac.tier1).await, 200);
    assert_eq!(server.admin(Method::DELETE, &member, None).await.0, 204);
    assert_eq!(status(server, "/api/machines/db1", &rbac.tier1).await, 404);
    // Opening the Servers group to every user.
    let servers = tenant_path(server, "/device-groups/Servers");
    let (code, opened) = server
        .admin(Method::PATCH, &servers, Some(json!({"userGroups": []})))
        .await;
    assert_eq!((code, opened["aadUsersGroups"].clone()), (200, json!([])));
    assert_eq!(status(server, "/api/machines/db1", &rbac.tier1).await, 200);
    // Taking the role away.
    let analysts = tenant_path(server, "/roles/Analysts");
    assert_eq!(server.admin(Method::DELETE, &analysts, None).await.0, 204);
    assert_eq!(status(server, "/api/machines/db1", &rbac.tier1).await, 403);
    // A deleted user's token reaches nothing, whatever it says.
    let user = tenant_path(server, &format!("/users/{TIER2}"));
    assert_eq!(server.admin(Method::DELETE, &user, None).await.0, 204);
    assert_eq!(status(server, "/api/machines/db1", &rbac.tier2).await, 403);
}

#[tokio::test]
async fn the_admin_api_takes_only_its_key_and_refuses_bad_input() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    let tenants = "/admin/tenants";
    for key in [None, Some("wrong"), Some("")] {
        let (status, body) = server.admin_with_key(Method::GET, tenants, None, key).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (401, json!("Unauthorized")),
            "{key:?}"
        );
    }
    // An API token is not an admin key.
    let api_token = server.token().await;
    assert_eq!(
        server
            .admin_with_key(Method::GET, tenants, None, Some(&api_token))
            .await
            .0,
        401
    );
    let (status, listed) = server.admin(Method::GET, tenants, None).await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["domain"], "contoso.onmicrosoft.com");

    let groups = tenant_path(&server, "/device-groups");
    let rule = |rules: Value| json!({"deviceGroupName": "G", "deviceGroupRules": rules});
    let too_many: Vec<Value> = (0..11)
        .map(|i| json!({"condition": "Equals", "value": format!("t{i}")}))
        .collect();
    for (case, path, body, expected) in [
        (
            "no rules",
            groups.clone(),
            json!({"deviceGroupName": "G"}),
            (400, "InvalidInput"),
        ),
        (
            "In on names",
            groups.clone(),
            rule(json!({"devicesNamesConditions": [{"condition": "In", "value": "a"}]})),
            (400, "InvalidInput"),
        ),
        (
            "11 tags",
            groups.clone(),
            rule(json!({"devicesTagsConditions": too_many})),
            (400, "InvalidInput"),
        ),
        (
            "unknown operator",
            groups.clone(),
            rule(json!({"devicesTagsConditions": [{"condition": "Like", "value": "a"}]})),
            (400, "InvalidRequestBody"),
        ),
        (
            "unknown field",
            groups.clone(),
            json!({"deviceGroupName": "G", "rank": 1}),
            (400, "InvalidRequestBody"),
        ),
        (
            "the default group's name",
            groups.clone(),
            json!({"deviceGroupName": "ungrouped devices (default)",
                "deviceGroupRules": {"devicesTagsConditions": [{"condition": "Equals", "value": "a"}]}}),
            (409, "Conflict"),
        ),
        (
            "an unknown user group",
            groups.clone(),
            json!({"deviceGroupName": "G", "userGroups": ["nobody"],
                "deviceGroupRules": {"devicesTagsConditions": [{"condition": "Equals", "value": "a"}]}}),
            (404, "ResourceNotFound"),
        ),
        (
            "a role with the portal settings",
            tenant_path(&server, "/roles"),
            json!({"name": "R", "permissions": ["manage-portal-settings"]}),
            (400, "InvalidInput"),
        ),
        (
            "an unknown permission",
            tenant_path(&server, "/roles"),
            json!({"name": "R", "permissions": ["everything"]}),
            (400, "InvalidInput"),
        ),
        (
            "an unknown tenant",
            "/admin/tenants/nope.example/roles".to_string(),
            json!({"name": "R", "permissions": ["view-data"]}),
            (404, "ResourceNotFound"),
        ),
        (
            "a taken domain",
            tenants.to_string(),
            json!({"name": "again", "domain": "CONTOSO.onmicrosoft.com"}),
            (409, "Conflict"),
        ),
        (
            "a bad UPN",
            tenant_path(&server, "/users"),
            json!({"upn": "alice", "displayName": "A"}),
            (400, "InvalidInput"),
        ),
    ] {
        let (status, answer) = server.admin(Method::POST, &path, Some(body)).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str().unwrap_or("")),
            expected,
            "{case}: {answer}"
        );
    }
    let (status, answer) = server
        .admin(
            Method::DELETE,
            &tenant_path(&server, "/device-groups/Ungrouped devices (default)"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    let (_, roles) = server.admin(Method::GET, &tenant_path(&server, "/roles"), None).await;
    let builtin = roles[0]["name"].as_str().unwrap().to_string();
    assert_eq!(roles[0]["builtIn"], true);
    let builtin_path = tenant_path(&server, &format!("/roles/{builtin}"));
    assert_eq!(server.admin(Method::DELETE, &builtin_path, None).await.0, 400);
    let rename = json!({"name": "Mine now"});
    assert_eq!(server.admin(Method::PATCH, &builtin_path, Some(rename)).await.0, 400);
    let administrators = tenant_path(&server, "/groups/MDE administrators");
    assert_eq!(
        server.admin(Method::DELETE, &administrators, None).await.0,
        400,
        "the administrator role would be left without a group"
    );
}

#[tokio::test]
async fn another_tenants_roles_and_groups_reach_nothing_here() {
    let rbac = rbac().await;
    let server = &rbac.server;
    let (status, fabrikam) = server
        .admin(
            Method::POST,
            "/admin/tenants",
            Some(json!({"name": "Fabrikam", "domain": "fabrikam.onmicrosoft.com"})),
        )
        .await;
    assert_eq!(status, 201, "{fabrikam}");
    let (_, groups) = server
        .admin(Method::GET, "/admin/tenants/fabrikam.onmicrosoft.com/groups", None)
        .await;
    let names: Vec<&str> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["MDE administrators"],
        "a new tenant has its own administrators group only"
    );
    // Contoso's groups and users are not Fabrikam's.
    let member = format!("/admin/tenants/fabrikam.onmicrosoft.com/groups/MDE administrators/members/{TIER1}");
    assert_eq!(server.admin(Method::PUT, &member, None).await.0, 404);
    let (status, _) = server
        .admin(
            Method::POST,
            "/admin/tenants/fabrikam.onmicrosoft.com/roles",
            Some(json!({"name": "X", "permissions": ["view-data"], "userGroups": ["Tier1"]})),
        )
        .await;
    assert_eq!(status, 404);
    let (_, device_groups) = server
        .admin(
            Method::GET,
            "/admin/tenants/fabrikam.onmicrosoft.com/device-groups",
            None,
        )
        .await;
    assert_eq!(device_groups.as_array().unwrap().len(), 1, "only its Ungrouped group");
    assert_eq!(
        status_of(server, &rbac.tier1).await,
        200,
        "Contoso's access is unchanged"
    );
}

async fn status_of(server: &TestServer, token: &str) -> u16 {
    status(server, "/api/machines/web1", token).await
}
