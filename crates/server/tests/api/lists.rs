//! The list endpoints and their OData options, on data imported for each test.

use std::collections::HashSet;

use openmde_access::{DeviceGroup, DeviceGroupRules, Operator, PropertyCondition};
use openmde_model::{EntityKind, Timestamp};
use serde_json::{Value, json};

use crate::helpers::{TestServer, assert_mde_error};

fn days_ago(days: i64) -> String {
    Timestamp::now().minus_days(days).to_string()
}

fn ids(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("no value in {body}"))
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect()
}

/// A server without the demo fleet, holding 30 alerts on 3 machines: alert `a{i}` was last
/// updated `30 - i` days ago, has severity High when `i % 3 == 0`, and status Resolved when
/// `i % 4 == 0`.
async fn server_with_alerts() -> TestServer {
    let server = TestServer::start_with(|o| o.demo = false).await;
    // Device groups 1 and 2 take machines m1 and m2; m0 stays Ungrouped (rbacGroupId 0).
    let tenant = server.store().tenant(server.tenant()).await.unwrap().unwrap().key;
    for (m, priority) in [(1, 1), (2, 2)] {
        let group = DeviceGroup {
            rules: DeviceGroupRules {
                names: vec![PropertyCondition {
                    condition: Operator::Equals,
                    value: format!("ws-{m}"),
                }],
                ..DeviceGroupRules::default()
            },
            ..DeviceGroup::new(0, priority, &format!("Group {m}"))
        };
        server.store().create_device_group(tenant, &group).await.unwrap();
    }
    let machines: Vec<Value> = (0..3)
        .map(|m| {
            json!({"id": format!("m{m}"), "computerDnsName": format!("WS-{m}.contoso.com"),
                "lastSeen": days_ago(1), "firstSeen": days_ago(60), "lastIpAddress": format!("10.0.0.{m}"),
                "healthStatus": if m == 0 { "Active" } else { "Inactive" }, "rbacGroupId": 140 + m,
                "machineTags": if m == 1 { json!(["Finance", "VIP laptops"]) } else { json!([]) },
                "ipAddresses": [{"ipAddress": format!("192.168.1.{m}"), "type": "Ethernet"}]})
        })
        .collect();
    server.import(EntityKind::Machine, machines).await;
    let alerts: Vec<Value> = (0..30)
        .map(|i| {
            json!({"id": format!("a{i:02}"), "severity": if i % 3 == 0 { "High" } else { "Low" },
                "status": if i % 4 == 0 { "Resolved" } else { "New" }, "machineId": format!("m{}", i % 3),
                "title": format!("alert {i}"), "alertCreationTime": days_ago(40 - i),
                "lastUpdateTime": days_ago(30 - i), "incidentId": i / 10,
                "relatedUser": {"userName": format!("user{}", i % 2), "domainName": "CONTOSO"},
                "evidence": [{"entityType": "Ip", "evidenceCreationTime": days_ago(30 - i), "ipAddress": "203.0.113.9"}]})
        })
        .collect();
    server.import(EntityKind::Alert, alerts).await;
    server
}

#[tokio::test]
async fn alerts_filter_on_indexed_columns_in_the_default_order() {
    let server = server_with_alerts().await;
    let token = server.token().await;
    let since = days_ago(16);
    let body: Value = server
        .get_json(
            &format!("/api/alerts?$filter=severity eq 'High' and lastUpdateTime ge {since}"),
            &token,
        )
        .await;
    assert_eq!(body["@odata.context"], server.context("Alerts"));
    // Alerts 15..29 were updated within 16 days; of those, multiples of 3 are High; oldest first.
    assert_eq!(ids(&body), ["a15", "a18", "a21", "a24", "a27"]);
    assert!(body.get("@odata.nextLink").is_none());
    let first = &body["value"][0];
    assert_eq!(first["evidence"], json!([]), "evidence only with $expand");
    assert_eq!(first.as_object().unwrap().keys().next().unwrap(), "id");

    let body: Value = server
        .get_json("/api/alerts?$filter=status ne 'Resolved' and (incidentId eq 0 or incidentId eq 2)&$orderby=alertCreationTime desc&$top=3", &token)
        .await;
    assert_eq!(ids(&body), ["a29", "a27", "a26"]);
    let body: Value = server
        .get_json(
            "/api/alerts?$filter=severity in ('high') and not (status eq 'Resolved')&$count=true&$top=2&$skip=1",
            &token,
        )
        .await;
    assert_eq!(body["@odata.count"], 7, "{body}");
    assert_eq!(ids(&body), ["a06", "a09"]);
    let body: Value = server
        .get_json(
            "/api/alerts?$filter=startswith(id,'a2') and contains(category, 'x') eq false",
            &token,
        )
        .await;
    // `contains(...) eq false` is not in the grammar: a comparison takes a property.
    assert!(body["error"]["code"] == "ODataError", "{body}");
}

#[tokio::test]
async fn select_and_expand_shape_the_items_and_the_context() {
    let server = server_with_alerts().await;
    let token = server.token().await;
    let body: Value = server
        .get_json("/api/alerts?$select=severity,id&$top=1&$filter=id eq 'a03'", &token)
        .await;
    assert_eq!(body["@odata.context"], server.context("Alerts(id,severity)"));
    assert_eq!(body["value"], json!([{"id": "a03", "severity": "High"}]));
    let body: Value = server
        .get_json("/api/alerts?$expand=evidence&$filter=id eq 'a03'", &token)
        .await;
    let evidence = body["value"][0]["evidence"].as_array().unwrap();
    assert_eq!(evidence[0]["ipAddress"], "203.0.113.9");
    assert_eq!(evidence[0]["sha1"], Value::Null, "evidence items are whole");
    let body: Value = server
        .get_json("/api/machines?$select=computerDnsName,id&$filter=id eq 'm0'", &token)
        .await;
    assert_eq!(
        body["value"],
        json!([{"id": "m0", "computerDnsName": "WS-0.contoso.com"}])
    );
}

#[tokio::test]
async fn next_links_walk_every_page_once_while_data_changes() {
    let server = server_with_alerts().await;
    let token = server.token().await;
    let body: Value = server.get_json("/api/alerts?pageSize=7&$count=true", &token).await;
    assert_eq!(body["@odata.count"], 30);
    let mut seen = ids(&body);
    assert_eq!(seen.len(), 7);
    // Alerts added before the cursor are not served on later pages; none is served twice.
    server
        .import(
            EntityKind::Alert,
            vec![json!({"id": "a-old", "lastUpdateTime": days_ago(100), "machineId": "m0"})],
        )
        .await;
    let mut next = body["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(
        next.starts_with(&format!("https://{}/api/alerts?", server.https)),
        "{next}"
    );
    assert!(next.contains("pageSize=7") && next.contains("$skiptoken="), "{next}");
    loop {
        let path = next.split_once(&server.https.to_string()).unwrap().1.to_string();
        let page: Value = server.get_json(&path, &token).await;
        assert_eq!(page["@odata.count"], 31, "the count follows the data");
        seen.extend(ids(&page));
        match page["@odata.nextLink"].as_str() {
            Some(link) => next = link.to_string(),
            None => break,
        }
    }
    let expected: Vec<String> = (0..30).map(|i| format!("a{i:02}")).collect();
    assert_eq!(seen, expected);

    // $top caps the whole walk; the link carries what is left of it.
    let body: Value = server.get_json("/api/alerts?pageSize=4&$top=6", &token).await;
    let next = body["@odata.nextLink"].as_str().unwrap();
    assert!(next.contains("$top=2"), "{next}");
    let path = next.split_once(&server.https.to_string()).unwrap().1;
    let last: Value = server.get_json(path, &token).await;
    assert_eq!(ids(&last).len(), 2);
    assert!(last.get("@odata.nextLink").is_none());

    // A token is bound to its ordering.
    let token_value = next.split("$skiptoken=").nth(1).unwrap();
    let response = server
        .get(
            &format!("/api/alerts?$orderby=severity&$skiptoken={token_value}"),
            Some(&token),
        )
        .await;
    assert!(
        assert_mde_error(response, 400, "ODataError")
            .await
            .contains("another order")
    );
    let response = server.get("/api/alerts?$skiptoken=bm9wZQ", Some(&token)).await;
    assert_mde_error(response, 400, "ODataError").await;
}

#[tokio::test]
async fn count_segments_answer_a_bare_number() {
    let server = server_with_alerts().await;
    let token = server.token().await;
    let response = server
        .get(
            "/api/machines/m0/alerts/$count?$filter=status ne 'Resolved'",
            Some(&token),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    // m0 has a00, a03, ..., a27 (10 alerts); a00, a12, a24 are Resolved.
    assert_eq!(response.text().await.unwrap(), "7");
    for (path, count) in [
        ("/api/alerts/$count", "30"),
        ("/api/machines/$count?$filter=healthStatus eq 'Inactive'", "2"),
    ] {
        assert_eq!(
            server.get(path, Some(&token)).await.text().await.unwrap(),
            count,
            "{path}"
        );
    }
    let response = server.get("/api/alerts/$count?$top=1", Some(&token)).await;
    assert_mde_error(response, 400, "ODataError").await;
}

#[tokio::test]
async fn query_errors_name_the_option_and_the_reason() {
    let server = server_with_alerts().await;
    let token = server.token().await;
    let long = format!("/api/alerts?$filter=id eq '{}'", "x".repeat(9000));
    let deep = format!("/api/alerts?$filter={}id eq 'x'{}", "(".repeat(40), ")".repeat(40));
    let in_list = format!(
        "/api/alerts?$filter=id in ({})",
        (0..1001).map(|i| format!("'{i}'")).collect::<Vec<_>>().join(",")
    );
    for (path, message) in [
        ("/api/alerts?$filter=title eq 'x'", "'title' cannot be used in $filter"),
        ("/api/alerts?$filter=nope eq 1", "there is no property 'nope' on Alert"),
        (
            "/api/alerts?$filter=severity eq 'Severe'",
            "'Severe' is not a AlertSeverity value",
        ),
        ("/api/alerts?$filter=lastUpdateTime ge 'yesterday'", "not a timestamp"),
        ("/api/alerts?$filter=severity eq", "position 11"),
        (
            "/api/alerts?$top=10001",
            "the limit of '10000' for $top has been exceeded",
        ),
        ("/api/alerts?$orderby=title", "'title' cannot be used to order"),
        ("/api/alerts?$expand=machine", "alerts expand 'evidence' only"),
        ("/api/machines?$expand=evidence", "cannot be expanded"),
        ("/api/alerts?$select=nope", "Could not find a property named 'nope'"),
        ("/api/machines?$filter=machineTags eq 'x'", "is a collection"),
        (long.as_str(), "8192"),
        (deep.as_str(), "nest"),
        (in_list.as_str(), "at most 1000 values"),
    ] {
        let message_given = assert_mde_error(server.get(path, Some(&token)).await, 400, "ODataError").await;
        assert!(message_given.contains(message), "{path}: {message_given}");
    }
}

#[tokio::test]
async fn machines_filter_on_names_tags_and_addresses() {
    let server = server_with_alerts().await;
    let token = server.token().await;
    for (filter, expected) in [
        ("computerDnsName eq 'ws-1.CONTOSO.com'", vec!["m1"]),
        ("machineTags/any(t: t eq 'finance')", vec!["m1"]),
        ("machineTags/all(t: t ne 'Finance')", vec!["m0", "m2"]),
        ("ipAddresses/any(ip: ip/ipAddress eq '192.168.1.2')", vec!["m2"]),
        ("rbacGroupId ge 1 and healthStatus eq 'Inactive'", vec!["m1", "m2"]),
        (
            "startswith(computerDnsName,'ws-') and not (lastIpAddress eq '10.0.0.0')",
            vec!["m1", "m2"],
        ),
        ("lastSeen lt 2020-01-01Z", vec![]),
    ] {
        let body: Value = server
            .get_json(&format!("/api/machines?$filter={filter}"), &token)
            .await;
        assert_eq!(body["@odata.context"], server.context("Machines"), "{body}");
        assert_eq!(ids(&body), expected, "{filter}");
    }
    let body: Value = server.get_json("/api/machines?$orderby=rbacGroupId desc", &token).await;
    assert_eq!(ids(&body), ["m2", "m1", "m0"]);
}

#[tokio::test]
async fn machine_lists_are_404_when_no_machine_was_seen_recently() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    let token = server.token().await;
    let message = assert_mde_error(server.get("/api/machines", Some(&token)).await, 404, "ResourceNotFound").await;
    assert!(message.contains("No machines"), "{message}");
    server
        .import(
            EntityKind::Machine,
            vec![json!({"id": "old", "lastSeen": days_ago(400)})],
        )
        .await;
    assert_eq!(server.get("/api/machines", Some(&token)).await.status(), 404);
    server
        .import(EntityKind::Machine, vec![json!({"id": "new", "lastSeen": days_ago(1)})])
        .await;
    let body: Value = server.get_json("/api/machines", &token).await;
    assert_eq!(ids(&body), ["new"]);
    // A filter that matches nothing is an empty list, not a 404.
    let body: Value = server.get_json("/api/machines?$filter=id eq 'none'", &token).await;
    assert_eq!(body["value"], json!([]));
}

#[tokio::test]
async fn find_by_tag_and_by_ip() {
    let server = server_with_alerts().await;
    let token = server.token().await;
    for (query, expected) in [
        ("tag=finance", vec!["m1"]),
        ("tag=VIP", vec![]),
        ("tag=VIP&useStartsWithFilter=true", vec!["m1"]),
        ("tag=vip%20laptops&useStartsWithFilter=false", vec!["m1"]),
    ] {
        let body: Value = server
            .get_json(&format!("/api/machines/findbytag?{query}"), &token)
            .await;
        assert_eq!(body["@odata.context"], server.context("Machines"));
        assert_eq!(ids(&body), expected, "{query}");
    }
    let response = server.get("/api/machines/findbytag", Some(&token)).await;
    assert_mde_error(response, 400, "MissingRequiredParameter").await;
    let response = server
        .get("/api/machines/findbytag?tag=x&useStartsWithFilter=maybe", Some(&token))
        .await;
    assert_mde_error(response, 400, "InvalidInput").await;

    // m2 holds 10.0.0.2 and 192.168.1.2 and was seen from 60 days ago until yesterday.
    let at = |days: i64| Timestamp::now().minus_days(days).to_string();
    for (ip, when, expected) in [
        ("10.0.0.2", at(2), vec!["m2"]),
        ("192.168.1.2", at(1), vec!["m2"]),
        ("10.0.0.2", at(0), vec![]),
        ("10.9.9.9", at(2), vec![]),
    ] {
        let body: Value = server
            .get_json(&format!("/api/machines/findbyip(ip='{ip}',timestamp={when})"), &token)
            .await;
        assert_eq!(ids(&body), expected, "{ip} at {when}: {body}");
    }
    // Within 15 minutes of the last sighting still counts.
    let just_after = Timestamp::now().minus_days(1).plus_seconds(10 * 60).to_string();
    let body: Value = server
        .get_json(
            &format!("/api/machines/findbyip(ip='10.0.0.2',timestamp={just_after})"),
            &token,
        )
        .await;
    assert_eq!(ids(&body), ["m2"]);
    for (path, code) in [
        (
            format!("/api/machines/findbyip(ip='10.0.0.2',timestamp={})", at(31)),
            "InvalidInput",
        ),
        (
            "/api/machines/findbyip(ip='nope',timestamp=2024-01-01Z)".to_string(),
            "InvalidInput",
        ),
        (
            "/api/machines/findbyip(ip='10.0.0.2')".to_string(),
            "MissingRequiredParameter",
        ),
        (
            "/api/machines/findbyip(ip='10.0.0.2',timestamp=soon)".to_string(),
            "InvalidInput",
        ),
    ] {
        let message = assert_mde_error(server.get(&path, Some(&token)).await, 400, code).await;
        assert!(!message.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn a_machines_alerts_and_logon_users() {
    let server = server_with_alerts().await;
    let token = server.token().await;
    let body: Value = server
        .get_json(
            "/api/machines/ws-2.contoso.com/alerts?$filter=severity eq 'Low'&$select=id,machineId",
            &token,
        )
        .await;
    assert_eq!(body["@odata.context"], server.context("Alerts(id,machineId)"));
    let expected: Vec<String> = (0..30).filter(|i| i % 3 == 2).map(|i| format!("a{i:02}")).collect();
    assert_eq!(ids(&body), expected);
    assert!(body["value"].as_array().unwrap().iter().all(|a| a["machineId"] == "m2"));
    let response = server.get("/api/machines/nope/alerts", Some(&token)).await;
    assert_mde_error(response, 404, "ResourceNotFound").await;

    // The demo application has no User.Read.All.
    let response = server.get("/api/machines/m0/logonusers", Some(&token)).await;
    assert_mde_error(response, 403, "Forbidden").await;
    let users_token = server.app_token(&["User.Read.All"]).await;
    let body: Value = server.get_json("/api/machines/m0/logonusers", &users_token).await;
    assert_eq!(body["@odata.context"], server.context("Users"));
    let users: HashSet<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(users, HashSet::from(["contoso\\user0", "contoso\\user1"]));
    // user0 is on m0's alerts a00, a06, ..., a24: first seen at the earliest creation, last at
    // the latest update (these alerts have no event times).
    let user0 = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == "contoso\\user0")
        .unwrap();
    let (first, last): (Value, Value) = (
        server.get_json("/api/alerts/a00", &token).await,
        server.get_json("/api/alerts/a24", &token).await,
    );
    assert_eq!(user0["firstSeen"], first["alertCreationTime"]);
    assert_eq!(user0["lastSeen"], last["lastUpdateTime"]);
    assert_eq!(user0["mostPrevalentMachineId"], "m0");
    let response = server.get("/api/machines/nope/logonusers", Some(&users_token)).await;
    assert_mde_error(response, 404, "ResourceNotFound").await;
}

#[tokio::test]
async fn lists_need_their_permission_and_keep_to_retention_and_tenant() {
    let server = server_with_alerts().await;
    let machines_only = server.app_token(&["Machine.Read.All"]).await;
    let alerts_only = server.app_token(&["Alert.Read.All"]).await;
    assert_mde_error(server.get("/api/alerts", Some(&machines_only)).await, 403, "Forbidden").await;
    assert_mde_error(server.get("/api/machines", Some(&alerts_only)).await, 403, "Forbidden").await;
    assert_mde_error(
        server.get("/api/machines/findbytag?tag=x", Some(&alerts_only)).await,
        403,
        "Forbidden",
    )
    .await;
    assert_eq!(server.get("/api/alerts", None).await.status(), 401);
    assert_eq!(
        server.get("/api/machines/m0/alerts", Some(&alerts_only)).await.status(),
        200
    );

    server
        .import(
            EntityKind::Alert,
            vec![json!({"id": "ancient", "lastUpdateTime": days_ago(400)})],
        )
        .await;
    let body: Value = server
        .get_json("/api/alerts?$filter=id eq 'ancient'", &alerts_only)
        .await;
    assert_eq!(body["value"], json!([]), "outside retention");

    // Another tenant sees none of it.
    let other = server.other_tenant_token(&["Alert.Read.All", "Machine.Read.All"]).await;
    let body: Value = server.get_json("/api/alerts", &other).await;
    assert_eq!(body["value"], json!([]));
    assert_eq!(server.get("/api/machines", Some(&other)).await.status(), 404);
}

#[tokio::test]
async fn list_endpoints_are_rate_limited_per_api() {
    let server = TestServer::start_with(|o| {
        o.rate_limits = openmde::state::RateLimits::default();
        o.rate_limits.set("alerts.list=2/min").unwrap();
    })
    .await;
    let token = server.token().await;
    for _ in 0..2 {
        assert_eq!(server.get("/api/alerts?$top=1", Some(&token)).await.status(), 200);
    }
    let response = server.get("/api/alerts/$count", Some(&token)).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_mde_error(response, 429, "TooManyRequests").await;
    assert_eq!(server.get("/api/machines?$top=1", Some(&token)).await.status(), 200);
}
