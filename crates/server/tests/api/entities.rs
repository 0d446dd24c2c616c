//! `GET /api/alerts/{id}`, `GET /api/machines/{id}`, the service document and `$metadata`.

use openmde_model::schema::{ALERT, MACHINE};
use openmde_model::{EntityKind, Timestamp};
use serde_json::{Map, Value, json};

use crate::helpers::{TestServer, assert_mde_error};

fn keys(body: &Map<String, Value>) -> Vec<&str> {
    body.keys().map(String::as_str).collect()
}

#[tokio::test]
async fn an_alert_comes_whole_with_its_evidence() {
    let server = TestServer::start().await;
    let token = server.token().await;
    let response = server
        .get(&format!("/api/alerts/{}", server.sample_alert()), Some(&token))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["odata-version"], "4.0");
    let body: Map<String, Value> = response.json().await.unwrap();
    let mut expected = vec!["@odata.context"];
    expected.extend(ALERT.properties.iter().map(|p| p.name));
    assert_eq!(keys(&body), expected);
    assert_eq!(
        body["@odata.context"],
        format!("https://{}/api/$metadata#Alerts/$entity", server.https)
    );
    assert_eq!(body["id"], server.sample_alert());
    let evidence = body["evidence"].as_array().unwrap();
    assert!(!evidence.is_empty());
    assert!(
        evidence
            .iter()
            .all(|e| e["entityType"].is_string() && e.as_object().unwrap().len() == 26)
    );

    let machine_only = server.app_token(&["Machine.Read.All"]).await;
    let path = format!("/api/alerts/{}", server.sample_alert());
    assert_mde_error(server.get(&path, Some(&machine_only)).await, 403, "Forbidden").await;
    let message = assert_mde_error(
        server.get("/api/alerts/nope", Some(&token)).await,
        404,
        "ResourceNotFound",
    )
    .await;
    assert_eq!(message, "Alert nope was not found");
    assert_mde_error(server.get(&path, None).await, 401, "Unauthorized").await;
}

#[tokio::test]
async fn machines_are_found_by_id_or_by_name_within_retention() {
    let server = TestServer::start_with(|o| o.retention_days = 30).await;
    let now = Timestamp::now();
    server.import( EntityKind::Machine, vec![
        json!({"id": "m-recent", "computerDnsName": "Fin-LT-0001.corp.contoso.com", "lastSeen": now.minus_days(1).to_string()}),
        json!({"id": "m-stale", "computerDnsName": "old.corp.contoso.com", "lastSeen": now.minus_days(45).to_string()}),
        json!({"id": "m-never", "computerDnsName": "never.corp.contoso.com"}),
        json!({"id": "old.corp.contoso.com", "computerDnsName": "id-looks-like-a-name", "lastSeen": now.to_string()}),
    ]).await;
    let token = server.token().await;
    for (key, id) in [
        ("m-recent", "m-recent"),
        ("fin-lt-0001.corp.contoso.com", "m-recent"),
        ("FIN-LT-0001.CORP.CONTOSO.COM", "m-recent"),
        ("m-never", "m-never"),
        // An id wins over a name.
        ("old.corp.contoso.com", "old.corp.contoso.com"),
    ] {
        let response = server.get(&format!("/api/machines/{key}"), Some(&token)).await;
        assert_eq!(response.status(), 200, "{key}");
        let body: Map<String, Value> = response.json().await.unwrap();
        assert_eq!(body["id"], id, "{key}");
        assert_eq!(
            body["@odata.context"],
            format!("https://{}/api/$metadata#Machines/$entity", server.https)
        );
        let mut expected = vec!["@odata.context"];
        expected.extend(MACHINE.properties.iter().map(|p| p.name));
        assert_eq!(keys(&body), expected);
    }
    for key in ["m-stale", "nope"] {
        let message = assert_mde_error(
            server.get(&format!("/api/machines/{key}"), Some(&token)).await,
            404,
            "ResourceNotFound",
        )
        .await;
        assert_eq!(message, format!("Machine {key} was not found"));
    }
    let alerts_only = server.app_token(&["Alert.Read.All"]).await;
    assert_mde_error(
        server.get("/api/machines/m-recent", Some(&alerts_only)).await,
        403,
        "Forbidden",
    )
    .await;
}

#[tokio::test]
async fn service_document_and_metadata() {
    let server = TestServer::start().await;
    let token = server.token().await;
    assert_mde_error(server.get("/api/$metadata", None).await, 401, "Unauthorized").await;
    let metadata = server.get("/api/$metadata", Some(&token)).await;
    assert_eq!(metadata.status(), 200);
    assert_eq!(metadata.headers()["content-type"], "application/xml");
    assert_eq!(metadata.text().await.unwrap(), openmde_model::METADATA_XML);

    let service: Value = server.get_json("/api", &token).await;
    assert_eq!(
        service["@odata.context"],
        format!("https://{}/api/$metadata", server.https)
    );
    let names: Vec<&str> = service["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Alerts") && names.contains(&"Machines"), "{names:?}");
    assert!(
        service["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["kind"] == "EntitySet" && s["url"] == s["name"])
    );
}

#[tokio::test]
async fn single_entities_take_select_and_refuse_collection_options() {
    let server = TestServer::start().await;
    let token = server.token().await;
    let alert = server.sample_alert().to_string();
    let machine: Value = server.get_json(&format!("/api/alerts/{alert}/machine"), &token).await;
    let machine_id = machine["id"].as_str().unwrap().to_string();

    let selected: Map<String, Value> = server
        .get_json(
            &format!("/api/machines/{machine_id}?$select=computerDnsName,ID"),
            &token,
        )
        .await;
    assert_eq!(
        keys(&selected),
        ["@odata.context", "id", "computerDnsName"],
        "wire order, canonical names"
    );
    assert_eq!(
        selected["@odata.context"],
        format!(
            "https://{}/api/$metadata#Machines(id,computerDnsName)/$entity",
            server.https
        )
    );
    assert_eq!(selected["computerDnsName"], machine["computerDnsName"]);

    let core: Map<String, Value> = server
        .get_json(&format!("/api/alerts/{alert}/machine?$select=osPlatform"), &token)
        .await;
    assert_eq!(keys(&core), ["@odata.context", "osPlatform"]);
    let with_evidence: Map<String, Value> = server
        .get_json(&format!("/api/alerts/{alert}?$select=evidence,id"), &token)
        .await;
    assert_eq!(keys(&with_evidence), ["@odata.context", "id", "evidence"]);
    assert!(!with_evidence["evidence"].as_array().unwrap().is_empty());

    for (query, message) in [
        (
            "$select=nope",
            "Could not find a property named 'nope' on type 'Machine'",
        ),
        (
            "$filter=id eq 'x'",
            "the query option '$filter' cannot be used on a single entity",
        ),
        ("$top=5", "the query option '$top' cannot be used on a single entity"),
        ("$top=five", "$top must be a whole number, not 'five'"),
        ("$frobnicate=1", "the query option '$frobnicate' is not supported"),
    ] {
        let response = server
            .get(&format!("/api/machines/{machine_id}?{query}"), Some(&token))
            .await;
        assert_eq!(assert_mde_error(response, 400, "ODataError").await, message, "{query}");
    }
}

#[tokio::test]
async fn an_alerts_user_files_ips_and_domains_come_from_its_evidence() {
    use openmde_model::schema::{FILE, USER};
    let server = TestServer::start_with(|o| o.demo = false).await;
    let now = Timestamp::now().to_string();
    server
        .import(EntityKind::Alert, vec![
            json!({"id": "a-rel", "machineId": "m1", "lastUpdateTime": now,
                   "relatedUser": {"userName": "adele", "domainName": "CONTOSO"},
                   "evidence": [
                       {"entityType": "User", "evidenceCreationTime": now, "accountName": "adele", "domainName": "CONTOSO", "userSid": "S-1-5-21-7"},
                       {"entityType": "File", "evidenceCreationTime": now, "sha1": "aa11", "sha256": "bb22", "fileName": "x.exe"},
                       {"entityType": "Process", "evidenceCreationTime": now, "sha1": "aa11"},
                       {"entityType": "Ip", "evidenceCreationTime": now, "ipAddress": "198.51.100.7"},
                       {"entityType": "Url", "evidenceCreationTime": now, "url": "http://beacon.example-c2.net/x"}
                   ]}),
            json!({"id": "a-bare", "machineId": "m1", "lastUpdateTime": now}),
        ])
        .await;
    let token = server
        .app_token(&["User.Read.All", "File.Read.All", "Ip.Read.All", "URL.Read.All"])
        .await;
    let origin = format!("https://{}", server.https);

    let user: Map<String, Value> = server.get_json("/api/alerts/a-rel/user", &token).await;
    let mut expected = vec!["@odata.context"];
    expected.extend(USER.properties.iter().map(|p| p.name));
    assert_eq!(keys(&user), expected);
    assert_eq!(user["@odata.context"], format!("{origin}/api/$metadata#Users/$entity"));
    assert_eq!(
        (user["id"].as_str(), user["accountSid"].as_str()),
        (Some("contoso\\adele"), Some("S-1-5-21-7"))
    );

    let files: Value = server.get_json("/api/alerts/a-rel/files", &token).await;
    assert_eq!(files["@odata.context"], format!("{origin}/api/$metadata#Files"));
    let items = files["value"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one file, named twice");
    let file_keys: Vec<&str> = items[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(file_keys, FILE.properties.iter().map(|p| p.name).collect::<Vec<_>>());
    assert_eq!(
        (items[0]["sha256"].as_str(), items[0]["determinationType"].as_str()),
        (Some("bb22"), Some("Unknown"))
    );

    let ips: Value = server.get_json("/api/alerts/a-rel/ips", &token).await;
    assert_eq!(
        ips,
        json!({"@odata.context": format!("{origin}/api/$metadata#Ips"), "value": [{"id": "198.51.100.7"}]})
    );
    let domains: Value = server.get_json("/api/alerts/a-rel/domains", &token).await;
    assert_eq!(
        domains,
        json!({"@odata.context": format!("{origin}/api/$metadata#Domains"), "value": [{"host": "beacon.example-c2.net"}]})
    );

    // An alert with no evidence has empty lists and no user.
    let empty: Value = server.get_json("/api/alerts/a-bare/files", &token).await;
    assert_eq!(empty["value"], json!([]));
    let message = assert_mde_error(
        server.get("/api/alerts/a-bare/user", Some(&token)).await,
        404,
        "ResourceNotFound",
    )
    .await;
    assert_eq!(message, "User of alert a-bare was not found");
    for route in ["user", "files", "ips", "domains"] {
        let path = format!("/api/alerts/nope/{route}");
        assert_eq!(
            assert_mde_error(server.get(&path, Some(&token)).await, 404, "ResourceNotFound").await,
            "Alert nope was not found"
        );
    }
    // Each needs its own permission; Alert.* is not enough.
    let alerts_only = server
        .app_token(&["Alert.ReadWrite.All", "Machine.ReadWrite.All"])
        .await;
    for (route, permission) in [
        ("user", "User.Read.All"),
        ("files", "File.Read.All"),
        ("ips", "Ip.Read.All"),
        ("domains", "URL.Read.All"),
    ] {
        let response = server
            .get(&format!("/api/alerts/a-rel/{route}"), Some(&alerts_only))
            .await;
        assert!(
            assert_mde_error(response, 403, "Forbidden").await.contains(permission),
            "{route}"
        );
    }
}

#[tokio::test]
async fn patching_an_alert_updates_it_for_every_reader() {
    let server = TestServer::start().await;
    let token = server.token().await;
    let path = format!("/api/alerts/{}", server.sample_alert());
    let patch = |body: Value, token: &str| {
        server
            .client
            .patch(server.url(&path))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let before: Value = server.get_json(&path, &token).await;

    let response = patch(
        json!({"status": "Resolved", "assignedTo": "secop2@contoso.com", "classification": "FalsePositive",
               "determination": "Malware", "comment": "Resolve my alert and assign to secop2"}),
        &token,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let updated: Map<String, Value> = response.json().await.unwrap();
    let mut expected = vec!["@odata.context"];
    expected.extend(ALERT.properties.iter().map(|p| p.name));
    assert_eq!(keys(&updated), expected);
    assert_eq!(
        (updated["status"].as_str(), updated["classification"].as_str()),
        (Some("Resolved"), Some("FalsePositive"))
    );
    assert_eq!(updated["assignedTo"], "secop2@contoso.com");
    assert!(updated["resolvedTime"].is_string());
    let stamp = Timestamp::parse(updated["lastUpdateTime"].as_str().unwrap()).unwrap();
    assert!(stamp > Timestamp::parse(before["lastUpdateTime"].as_str().unwrap()).unwrap());
    let comments = updated["comments"].as_array().unwrap();
    let last = comments.last().unwrap();
    assert_eq!(last["comment"], "Resolve my alert and assign to secop2");
    assert_eq!(last["createdBy"], server.credentials.client_id);
    assert_eq!(updated["evidence"], before["evidence"], "evidence is untouched");
    // What GET answers now is what PATCH answered.
    let after: Value = server.get_json(&path, &token).await;
    assert_eq!(after, Value::Object(updated.clone()));

    for (body, code, needle) in [
        (json!({"Status": "New"}), "InvalidRequestBody", "'Status'"),
        (json!({"status": 2}), "InvalidRequestBody", "'status' must be a string"),
        (
            json!({"status": "Closed"}),
            "InvalidInput",
            "Invalid input Closed for 'status'",
        ),
        (json!({"determination": "Aliens"}), "InvalidInput", "'determination'"),
        (json!(["status"]), "InvalidRequestBody", "expected a JSON object"),
    ] {
        let message = assert_mde_error(patch(body.clone(), &token).await.unwrap(), 400, code).await;
        assert!(message.contains(needle), "{body}: {message}");
    }
    let broken = server
        .client
        .patch(server.url(&path))
        .bearer_auth(&token)
        .body("{status:")
        .send()
        .await
        .unwrap();
    assert_mde_error(broken, 400, "InvalidRequestBody").await;
    let unchanged: Value = server.get_json(&path, &token).await;
    assert_eq!(unchanged, after, "refused bodies change nothing");

    let readonly = server.app_token(&["Alert.Read.All"]).await;
    assert_mde_error(
        patch(json!({"status": "New"}), &readonly).await.unwrap(),
        403,
        "Forbidden",
    )
    .await;
    let missing = server
        .client
        .patch(server.url("/api/alerts/nope"))
        .bearer_auth(&token)
        .json(&json!({"status": "New"}))
        .send()
        .await
        .unwrap();
    assert_mde_error(missing, 404, "ResourceNotFound").await;
    // Reopening clears the resolution time.
    let reopened: Value = patch(json!({"status": "InProgress"}), &token)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(reopened["resolvedTime"].is_null());
}

#[tokio::test]
async fn machine_tags_and_device_value_change_through_their_three_routes() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    server
        .import(
            EntityKind::Machine,
            vec![json!({"id": "m1", "machineTags": ["Finance"], "lastSeen": Timestamp::now().to_string()})],
        )
        .await;
    let token = server.token().await;
    let post = |path: &str, body: Value| {
        server
            .client
            .post(server.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    let tagged: Value = post("/api/machines/m1/tags", json!({"Value": "VIP", "Action": "Add"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tagged["machineTags"], json!(["Finance", "VIP"]));
    assert_eq!(
        tagged["@odata.context"],
        format!("https://{}/api/$metadata#Machines/$entity", server.https)
    );
    let untagged: Value = post("/api/machines/m1/tags", json!({"Value": "Finance", "Action": "Remove"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(untagged["machineTags"], json!(["VIP"]));
    let valued: Value = post("/api/machines/m1/setDeviceValue", json!({"DeviceValue": "High"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(valued["deviceValue"], "High");
    let patched: Value = server
        .client
        .patch(server.url("/api/machines/m1"))
        .bearer_auth(&token)
        .json(&json!({"machineTags": ["Servers", "Production"], "deviceValue": "Low"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (patched["machineTags"].clone(), patched["deviceValue"].clone()),
        (json!(["Servers", "Production"]), json!("Low"))
    );
    let read: Value = server.get_json("/api/machines/m1", &token).await;
    assert_eq!(read, patched);

    for (path, body, code) in [
        (
            "/api/machines/m1/tags",
            json!({"value": "x", "action": "Add"}),
            "InvalidRequestBody",
        ),
        (
            "/api/machines/m1/tags",
            json!({"Value": "x"}),
            "MissingRequiredParameter",
        ),
        (
            "/api/machines/m1/tags",
            json!({"Value": "x", "Action": "Toggle"}),
            "InvalidInput",
        ),
        (
            "/api/machines/m1/setDeviceValue",
            json!({"DeviceValue": "Critical"}),
            "InvalidInput",
        ),
        (
            "/api/machines/m1/setDeviceValue",
            json!({"deviceValue": "Low"}),
            "InvalidRequestBody",
        ),
    ] {
        assert_mde_error(post(path, body).await.unwrap(), 400, code).await;
    }
    assert_mde_error(
        post("/api/machines/nope/tags", json!({"Value": "x", "Action": "Add"}))
            .await
            .unwrap(),
        404,
        "ResourceNotFound",
    )
    .await;
    let readonly = server.app_token(&["Machine.Read.All"]).await;
    let refused = server
        .client
        .post(server.url("/api/machines/m1/tags"))
        .bearer_auth(&readonly)
        .json(&json!({"Value": "x", "Action": "Add"}))
        .send()
        .await
        .unwrap();
    assert_mde_error(refused, 403, "Forbidden").await;
    let unchanged: Value = server.get_json("/api/machines/m1", &token).await;
    assert_eq!(unchanged, patched, "refused writes change nothing");
}

#[tokio::test]
async fn batch_updates_change_all_or_nothing_within_their_own_limit() {
    let server = TestServer::start_with(|o| {
        o.demo = false;
        o.rate_limits = openmde::state::RateLimits::default();
    })
    .await;
    let now = Timestamp::now().to_string();
    server
        .import(
            EntityKind::Alert,
            vec![
                json!({"id": "b1", "status": "New", "lastUpdateTime": now}),
                json!({"id": "b2", "status": "New", "lastUpdateTime": now}),
            ],
        )
        .await;
    let token = server.token().await;
    let batch = |body: Value| {
        server
            .client
            .post(server.url("/api/alerts/batchUpdate"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    let done = batch(json!({"alertIds": ["b1", "b2"], "status": "InProgress", "comment": "triaged"}))
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    assert!(
        done.bytes().await.unwrap().is_empty(),
        "batchUpdate answers with an empty body"
    );
    for id in ["b1", "b2"] {
        let alert: Value = server.get_json(&format!("/api/alerts/{id}"), &token).await;
        assert_eq!(
            (alert["status"].as_str(), alert["comments"][0]["comment"].as_str()),
            (Some("InProgress"), Some("triaged"))
        );
    }
    let missing = batch(json!({"alertIds": ["b1", "nope"], "status": "Resolved"}))
        .await
        .unwrap();
    assert_eq!(
        assert_mde_error(missing, 404, "ResourceNotFound").await,
        "Alert nope was not found"
    );
    let b1: Value = server.get_json("/api/alerts/b1", &token).await;
    assert_eq!(b1["status"], "InProgress", "nothing of a refused batch is applied");
    assert_mde_error(
        batch(json!({"status": "Resolved"})).await.unwrap(),
        400,
        "MissingRequiredParameter",
    )
    .await;

    // 10 calls a minute: three were made above (a refused body is counted too, as the call was made).
    let second = (Timestamp::now().unix_seconds() % 60) as u64;
    if second > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second)).await;
    }
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(batch(json!({"alertIds": ["b2"]})).await.unwrap().status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 200).count() <= 10);
}

#[tokio::test]
async fn alerts_by_reference_are_raised_or_merged_into_an_open_one() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    server
        .import(
            EntityKind::Machine,
            vec![json!({"id": "m1", "computerDnsName": "m1.contoso.com", "lastSeen": Timestamp::now().to_string()})],
        )
        .await;
    let token = server.token().await;
    let body = json!({"machineId": "m1", "severity": "Low", "title": "example", "description": "example alert",
                      "recommendedAction": "nothing", "eventTime": "2018-08-03T16:45:21.7115183Z", "reportId": "20776",
                      "category": "Exploit"});
    let create = |body: Value| {
        server
            .client
            .post(server.url("/api/alerts/CreateAlertByReference"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let first: Value = create(body.clone()).await.unwrap().json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("da6") && id.contains('_'), "{id}");
    assert_eq!(
        (
            first["status"].as_str(),
            first["severity"].as_str(),
            first["category"].as_str()
        ),
        (Some("New"), Some("Low"), Some("Exploit"))
    );
    assert_eq!(
        (first["computerDnsName"].as_str(), first["aadTenantId"].as_str()),
        (Some("m1.contoso.com"), Some(server.tenant()))
    );
    assert_eq!(first["firstEventTime"], "2018-08-03T16:45:21.7115183Z");
    assert_eq!(
        first["@odata.context"],
        format!("https://{}/api/$metadata#Alerts/$entity", server.https)
    );
    let read: Value = server.get_json(&format!("/api/alerts/{id}"), &token).await;
    assert_eq!(read, first);
    assert_eq!(server.machine_status(&id, &token).await, 200);

    // While it is open, the same title on the same machine merges into it.
    let merged: Value = create(body.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(merged["id"], first["id"]);
    let resolve = server
        .client
        .patch(server.url(&format!("/api/alerts/{id}")))
        .bearer_auth(&token)
        .json(&json!({"status": "Resolved"}));
    assert_eq!(resolve.send().await.unwrap().status(), 200);
    let fresh: Value = create(body.clone()).await.unwrap().json().await.unwrap();
    assert_ne!(fresh["id"], first["id"]);

    let mut elsewhere = body.clone();
    elsewhere["machineId"] = json!("m-unknown");
    assert_eq!(
        assert_mde_error(create(elsewhere).await.unwrap(), 404, "ResourceNotFound").await,
        "Machine m-unknown was not found"
    );
    let mut incomplete = body.clone();
    incomplete.as_object_mut().unwrap().remove("title");
    assert_mde_error(create(incomplete).await.unwrap(), 400, "MissingRequiredParameter").await;
    let readonly = server.app_token(&["Alert.Read.All"]).await;
    let refused = server
        .client
        .post(server.url("/api/alerts/CreateAlertByReference"))
        .bearer_auth(&readonly)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_mde_error(refused, 403, "Forbidden").await;
}

#[tokio::test]
async fn one_tag_change_on_many_machines_is_all_or_nothing() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    let seen = Timestamp::now().to_string();
    server
        .import(
            EntityKind::Machine,
            vec![
                json!({"id": "m1", "machineTags": [], "lastSeen": seen}),
                json!({"id": "m2", "machineTags": ["Old"], "lastSeen": seen}),
            ],
        )
        .await;
    let token = server.token().await;
    let send = |body: Value| {
        server
            .client
            .post(server.url("/api/machines/AddOrRemoveTagForMultipleMachines"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let response: Value = send(json!({"Value": "Pilot", "Action": "Add", "MachineIds": ["m1", "m2"]}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        response["@odata.context"],
        format!("https://{}/api/$metadata#Machines", server.https)
    );
    let tags: Vec<Value> = response["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["machineTags"].clone())
        .collect();
    assert_eq!(tags, [json!(["Pilot"]), json!(["Old", "Pilot"])]);

    let refused = send(json!({"Value": "Gone", "Action": "Add", "MachineIds": ["m1", "m-unknown"]}))
        .await
        .unwrap();
    assert_eq!(
        assert_mde_error(refused, 404, "ResourceNotFound").await,
        "Machine m-unknown was not found"
    );
    let m1: Value = server.get_json("/api/machines/m1", &token).await;
    assert_eq!(
        m1["machineTags"],
        json!(["Pilot"]),
        "nothing of a refused call is applied"
    );
    let many: Vec<String> = (0..501).map(|i| format!("m{i}")).collect();
    assert_mde_error(
        send(json!({"Value": "x", "Action": "Add", "MachineIds": many}))
            .await
            .unwrap(),
        400,
        "MaximumBatchSizeExceeded",
    )
    .await;
}

/// PostgreSQL text cannot hold U+0000 (docs/fidelity.md): there a request value holding it is
/// 400 InvalidInput and nothing is written; SQLite treats it as any other character. Never a 500.
#[tokio::test]
async fn a_value_holding_u0000_is_refused_on_postgres_and_plain_text_on_sqlite() {
    let server = TestServer::start().await;
    let token = server.token().await;
    let on_postgres = crate::helpers::database_url(server.dir.path()).is_some();
    let (status, code) = if on_postgres {
        (400, "InvalidInput")
    } else {
        (404, "ResourceNotFound")
    };
    let lookup = server.get("/api/alerts/da%00b/machine", Some(&token)).await;
    crate::helpers::assert_mde_error(lookup, status, code).await;

    let filtered = server
        .get("/api/alerts?$filter=assignedTo eq 'a%00b'", Some(&token))
        .await;
    if on_postgres {
        crate::helpers::assert_mde_error(filtered, 400, "InvalidInput").await;
    } else {
        assert_eq!(filtered.status(), 200);
        assert_eq!(filtered.json::<Value>().await.unwrap()["value"], json!([]));
    }

    let alert = format!("/api/alerts/{}", server.sample_alert());
    let before: Value = server.get_json(&alert, &token).await;
    let patched = server
        .client
        .patch(server.url(&alert))
        .bearer_auth(&token)
        .json(&json!({"assignedTo": "a\u{0}b"}))
        .send()
        .await
        .unwrap();
    let after: Value = server.get_json(&alert, &token).await;
    if on_postgres {
        crate::helpers::assert_mde_error(patched, 400, "InvalidInput").await;
        assert_eq!(after, before, "nothing was written");
    } else {
        assert_eq!(patched.status(), 200);
        assert_eq!(after["assignedTo"], "a\u{0}b");
    }

    // Names the token endpoint looks up name nothing, on either store.
    let unknown_tenant = server
        .client
        .post(server.url("/a%00b/oauth2/v2.0/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    crate::tokens::entra_error(unknown_tenant, 400, "invalid_tenant", 90002).await;
    let unknown_user = server
        .client
        .post(server.url(&format!("/{}/oauth2/v2.0/token", server.tenant())))
        .form(&[
            ("grant_type", "password"),
            ("client_id", server.credentials.client_id.as_str()),
            ("username", "a\u{0}b@contoso.onmicrosoft.com"),
            ("password", "x"),
            ("scope", "https://api.securitycenter.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    crate::tokens::entra_error(unknown_user, 400, "invalid_grant", 50126).await;
}
