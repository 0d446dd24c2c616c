//! `openmde import`: MDE JSON in, per-file transactions, errors that name the record.

use std::path::Path;

use openmde::import::{ImportError, import_file};
use serde_json::{Value, json};

use crate::helpers::{TestServer, assert_mde_error};

fn write(dir: &Path, name: &str, value: &Value) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

async fn machine_of(server: &TestServer, alert: &str) -> reqwest::Response {
    let token = server.token().await;
    server.get(&format!("/api/alerts/{alert}/machine"), Some(&token)).await
}

#[tokio::test]
async fn list_responses_arrays_and_single_entities_import_and_keep_every_field() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    let store = server.store();
    let tenant = store.tenant(server.tenant()).await.unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let machines = write(
        dir.path(),
        "machines.json",
        &json!({
            "@odata.context": "https://api.securitycenter.microsoft.com/api/$metadata#Machines",
            "value": [
                {"id": "1e5bc9d7e413ddd7902c2932e418702b84d0cc07", "computerDnsName": "mymachine1.contoso.com",
                 "firstSeen": "2018-08-02T14:55:03.7791856Z", "lastSeen": "2021-01-25T07:27:36.052313Z",
                 "osPlatform": "Windows10", "healthStatus": "Active", "rbacGroupId": 140, "machineTags": ["Tag1", "Tag2"],
                 "ipAddresses": [{"ipAddress": "10.166.113.47", "macAddress": "8CEC4B897E73", "operationalStatus": "Up"}],
                 "customerField": {"nested": [1, 2]}},
                {"id": "second", "healthStatus": "Inactive"}
            ]
        }),
    );
    let alerts = write(
        dir.path(),
        "alerts.json",
        &json!([
            {"id": "da637472900382838869_1364969609", "machineId": "1e5bc9d7e413ddd7902c2932e418702b84d0cc07",
             "severity": "Medium", "status": "New", "alertCreationTime": openmde_model::Timestamp::now().to_string(),
             "evidence": [{"entityType": "File", "evidenceCreationTime": "2021-01-26T20:33:58.42Z", "fileName": "x.exe"}]}
        ]),
    );
    let single = write(
        dir.path(),
        "one.json",
        &json!({"id": "solo", "machineId": "second", "title": "Alone",
                                                       "lastUpdateTime": openmde_model::Timestamp::now().to_string()}),
    );
    let counts = import_file(store.as_ref(), tenant.key, &machines).await.unwrap();
    assert_eq!((counts.machines, counts.alerts), (2, 0));
    let counts = import_file(store.as_ref(), tenant.key, &alerts).await.unwrap();
    assert_eq!((counts.machines, counts.alerts), (0, 1));
    let counts = import_file(store.as_ref(), tenant.key, &single).await.unwrap();
    assert_eq!((counts.machines, counts.alerts), (0, 1));

    let body: serde_json::Map<String, Value> = machine_of(&server, "da637472900382838869_1364969609")
        .await
        .json()
        .await
        .unwrap();
    // The device group is openmde's to keep: the tenant has none, so the machine is Ungrouped.
    assert_eq!(body["rbacGroupId"], 0);
    assert_eq!(body["rbacGroupName"], Value::Null);
    assert_eq!(body["lastSeen"], "2021-01-25T07:27:36.052313Z");
    assert_eq!(body["machineTags"], json!(["Tag1", "Tag2"]));
    assert_eq!(body["ipAddresses"][0]["type"], Value::Null);
    assert_eq!(
        body["customerField"],
        json!({"nested": [1, 2]}),
        "unknown fields are kept"
    );
    assert_eq!(
        body.keys().next_back().unwrap(),
        "customerField",
        "after the known properties"
    );
    let solo: Value = machine_of(&server, "solo").await.json().await.unwrap();
    assert_eq!(solo["healthStatus"], "Inactive");
    assert_eq!(solo["deviceValue"], "Normal", "non-null properties get their default");

    // Upsert by id: the new record replaces the old one.
    let update = write(
        dir.path(),
        "update.json",
        &json!([{"id": "second", "computerDnsName": "renamed", "osPlatform": "Linux"}]),
    );
    import_file(store.as_ref(), tenant.key, &update).await.unwrap();
    let solo: Value = machine_of(&server, "solo").await.json().await.unwrap();
    assert_eq!(
        (solo["computerDnsName"].as_str(), solo["healthStatus"].as_str()),
        (Some("renamed"), Some("Unknown"))
    );

    // An id twice in one file: the later record is what stays, and both count.
    let twice = write(
        dir.path(),
        "twice.json",
        &json!([{"id": "second", "computerDnsName": "first-copy", "osPlatform": "Linux"},
            {"id": "second", "computerDnsName": "last-copy", "osPlatform": "Linux"}]),
    );
    let counts = import_file(store.as_ref(), tenant.key, &twice).await.unwrap();
    assert_eq!((counts.machines, counts.alerts), (2, 0));
    let solo: Value = machine_of(&server, "solo").await.json().await.unwrap();
    assert_eq!(solo["computerDnsName"], "last-copy");
}

#[tokio::test]
async fn a_bad_record_names_file_index_and_field_and_nothing_of_the_file_is_written() {
    let server = TestServer::start_with(|o| o.demo = false).await;
    let store = server.store();
    let tenant = store.tenant(server.tenant()).await.unwrap().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let now = openmde_model::Timestamp::now().to_string();
    let mut value = vec![json!({"id": "m-ok", "osPlatform": "Linux"})];
    for i in 0..4000 {
        value.push(json!({"id": format!("a-{i}"), "machineId": "m-ok", "lastUpdateTime": now}));
    }
    value.push(json!({"id": "a-bad", "machineId": "m-ok", "severity": "Catastrophic"}));
    let path = write(dir.path(), "broken.json", &json!({"value": value}));
    let error = import_file(store.as_ref(), tenant.key, &path).await.unwrap_err();
    assert!(matches!(error, ImportError::BadRecord { index: 4001, .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("broken.json")
            && message.contains("record 4001")
            && message.contains("id 'a-bad'")
            && message.contains("field 'severity'")
            && message.contains("'Catastrophic' is not a member of AlertSeverity"),
        "{message}"
    );
    assert_mde_error(machine_of(&server, "a-0").await, 404, "ResourceNotFound").await;

    let cases = [
        ("notjson.json", "{\"value\": [{\"id\": \"x\"", "not valid MDE JSON"),
        (
            "scalar.json",
            "[{\"id\": \"x\", \"osPlatform\": \"Linux\"}, 7]",
            "record 1: is not a JSON object",
        ),
        (
            "unknown.json",
            "[{\"id\": \"x\"}]",
            "record 0 (id 'x'): cannot tell whether it is a machine or an alert",
        ),
        ("noid.json", "[{\"osPlatform\": \"Linux\"}]", "field 'id': is required"),
        (
            "users.json",
            "{\"@odata.context\": \"https://x/api/$metadata#Users\", \"value\": []}",
            "names neither Machines nor Alerts",
        ),
        ("trailing.json", "[] []", "not valid MDE JSON"),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let message = import_file(store.as_ref(), tenant.key, &path)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with(&path.display().to_string()) && message.contains(expected),
            "{name}: {message}"
        );
    }
    let missing = import_file(store.as_ref(), tenant.key, &dir.path().join("absent.json"))
        .await
        .unwrap_err();
    assert!(matches!(missing, ImportError::Unreadable { .. }));
}
