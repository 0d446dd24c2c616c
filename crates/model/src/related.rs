//! What an alert's user, files, IPs and domains are, derived from the alert and its evidence,
//! as `GET /api/alerts/{id}/user|files|ips|domains` serve them. Each result is canonical for
//! its entity type; properties the evidence does not tell are null.

use serde_json::{Map, Value, json};

use crate::Timestamp;
use crate::canonical::canonicalize;
use crate::schema::{DOMAIN_ENTITY, FILE, IP, USER};

fn text<'a>(item: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    item.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn of_type<'a>(
    evidence: &'a [Map<String, Value>],
    entity_type: &'a str,
) -> impl Iterator<Item = &'a Map<String, Value>> {
    evidence
        .iter()
        .filter(move |e| text(e, "entityType") == Some(entity_type))
}

/// Canonical records of `ty` from `items`, each once by `key`.
fn distinct(
    ty: &'static crate::edm::ComplexType,
    key: &str,
    items: impl Iterator<Item = Value>,
) -> Vec<Map<String, Value>> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for item in items {
        let Value::Object(map) = item else { continue };
        let Some(id) = map.get(key).cloned() else { continue };
        if seen.contains(&id) {
            continue;
        }
        if let Ok(record) = canonicalize(ty, map) {
            seen.push(id);
            out.push(record);
        }
    }
    out
}

/// The alert's user: its `relatedUser`, with the SID of matching user evidence.
pub fn user(alert: &Map<String, Value>, evidence: &[Map<String, Value>]) -> Option<Map<String, Value>> {
    let related = alert.get("relatedUser").and_then(Value::as_object);
    let from_evidence = of_type(evidence, "User").next();
    let account = related
        .and_then(|u| text(u, "userName"))
        .or_else(|| from_evidence.and_then(|e| text(e, "accountName")))?;
    let domain = related
        .and_then(|u| text(u, "domainName"))
        .or_else(|| from_evidence.and_then(|e| text(e, "domainName")));
    let sid = of_type(evidence, "User")
        .find(|e| text(e, "accountName") == Some(account))
        .and_then(|e| text(e, "userSid"));
    let machine = alert.get("machineId").cloned().unwrap_or(Value::Null);
    let user = json!({
        "id": match domain { Some(domain) => format!("{}\\{account}", domain.to_ascii_lowercase()), None => account.to_string() },
        "accountName": account,
        "accountDomain": domain.map(str::to_ascii_lowercase),
        "accountSid": sid,
        "mostPrevalentMachineId": machine,
        "leastPrevalentMachineId": machine,
    });
    canonicalize(&USER, user.as_object().cloned().unwrap_or_default()).ok()
}

/// Files named by file and process evidence, once per SHA-1.
pub fn files(evidence: &[Map<String, Value>]) -> Vec<Map<String, Value>> {
    let items = evidence
        .iter()
        .filter(|e| matches!(text(e, "entityType"), Some("File" | "Process")))
        .filter_map(|e| Some(json!({"sha1": text(e, "sha1")?, "sha256": text(e, "sha256")})));
    distinct(&FILE, "sha1", items)
}

/// IP addresses of IP evidence, once each.
pub fn ips(evidence: &[Map<String, Value>]) -> Vec<Map<String, Value>> {
    distinct(
        &IP,
        "id",
        of_type(evidence, "Ip").filter_map(|e| Some(json!({"id": text(e, "ipAddress")?}))),
    )
}

/// Hosts of URL evidence, once each.
pub fn domains(evidence: &[Map<String, Value>]) -> Vec<Map<String, Value>> {
    let hosts = of_type(evidence, "Url")
        .filter_map(|e| host_of(text(e, "url")?))
        .map(|host| json!({"host": host}));
    distinct(&DOMAIN_ENTITY, "host", hosts)
}

/// An alert's fields and its evidence items.
pub type AlertWithEvidence = (Map<String, Value>, Vec<Map<String, Value>>);

/// The users seen on a machine, from its alerts: each alert's logged-on users and its user,
/// once each, first and last seen at the earliest and latest of those alerts' event times.
pub fn logon_users(alerts: &[AlertWithEvidence]) -> Vec<Map<String, Value>> {
    let mut users: Vec<Map<String, Value>> = Vec::new();
    for (alert, evidence) in alerts {
        let time = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|n| text(alert, n))
                .and_then(|t| Timestamp::parse(t).ok())
        };
        let first = time(["firstEventTime", "alertCreationTime"]);
        let last = time(["lastEventTime", "lastUpdateTime"]).or(first);
        let logged_on = alert
            .get("loggedOnUsers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|u| {
                let u = u.as_object()?;
                let related = json!({"relatedUser": {"userName": text(u, "accountName")?, "domainName": text(u, "domainName")},
                    "machineId": alert.get("machineId")});
                user(related.as_object()?, evidence)
            });
        for found in user(alert, evidence).into_iter().chain(logged_on) {
            let at = match users.iter().position(|u| u.get("id") == found.get("id")) {
                Some(at) => at,
                None => {
                    users.push(found);
                    users.len() - 1
                }
            };
            widen(&mut users[at], "firstSeen", first, std::cmp::Ordering::Less);
            widen(&mut users[at], "lastSeen", last, std::cmp::Ordering::Greater);
        }
    }
    users
}

/// Replaces `entry[name]` with `time` when it is missing or `time` lies further in `direction`.
fn widen(entry: &mut Map<String, Value>, name: &str, time: Option<Timestamp>, direction: std::cmp::Ordering) {
    let Some(time) = time else { return };
    let current = entry
        .get(name)
        .and_then(Value::as_str)
        .and_then(|t| Timestamp::parse(t).ok());
    if current.is_none_or(|current| time.cmp(&current) == direction) {
        entry.insert(name.to_string(), Value::String(time.to_string()));
    }
}

/// `www.example.com` of `http://www.example.com:8080/path?q` (or of a bare host).
fn host_of(url: &str) -> Option<String> {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?.to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence() -> Vec<Map<String, Value>> {
        let items = json!([
            {"entityType": "User", "accountName": "adele", "domainName": "CONTOSO", "userSid": "S-1-5-21-1"},
            {"entityType": "File", "sha1": "aa", "sha256": "bb", "fileName": "x.exe"},
            {"entityType": "Process", "sha1": "aa", "fileName": "x.exe"},
            {"entityType": "Process", "sha1": "cc"},
            {"entityType": "Ip", "ipAddress": "198.51.100.7"},
            {"entityType": "Ip", "ipAddress": "198.51.100.7"},
            {"entityType": "Url", "url": "http://User@Beacon.Example-C2.net:8080/x?y"},
            {"entityType": "Url", "url": "beacon.example-c2.net"},
        ]);
        items
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_object().unwrap().clone())
            .collect()
    }

    #[test]
    fn derives_each_related_entity_once() {
        let alert = json!({"machineId": "m1", "relatedUser": {"userName": "adele", "domainName": "CONTOSO"}});
        let user = user(alert.as_object().unwrap(), &evidence()).unwrap();
        assert_eq!(user["id"], "contoso\\adele");
        assert_eq!(
            (user["accountSid"].as_str(), user["mostPrevalentMachineId"].as_str()),
            (Some("S-1-5-21-1"), Some("m1"))
        );
        assert_eq!(user.len(), USER.properties.len());
        let files = files(&evidence());
        assert_eq!(
            files.iter().map(|f| f["sha1"].as_str().unwrap()).collect::<Vec<_>>(),
            ["aa", "cc"]
        );
        assert_eq!(files[0]["determinationType"], "Unknown");
        assert_eq!(
            ips(&evidence()),
            vec![json!({"id": "198.51.100.7"}).as_object().unwrap().clone()]
        );
        assert_eq!(domains(&evidence()).len(), 1);
        assert_eq!(domains(&evidence())[0]["host"], "beacon.example-c2.net");
        assert!(super::user(&Map::new(), &[]).is_none());
    }

    #[test]
    fn logon_users_merge_the_alerts_of_a_machine() {
        let first = json!({"machineId": "m1", "relatedUser": {"userName": "adele", "domainName": "CONTOSO"},
            "firstEventTime": "2024-01-02T00:00:00Z", "lastEventTime": "2024-01-03T00:00:00Z",
            "loggedOnUsers": [{"accountName": "bob", "domainName": "contoso"}]});
        let second = json!({"machineId": "m1", "relatedUser": {"userName": "adele", "domainName": "contoso"},
            "alertCreationTime": "2024-01-01T00:00:00Z", "lastEventTime": "2024-01-05T00:00:00Z"});
        let alerts = vec![
            (first.as_object().unwrap().clone(), evidence()),
            (second.as_object().unwrap().clone(), Vec::new()),
        ];
        let users = logon_users(&alerts);
        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["contoso\\adele", "contoso\\bob"]);
        assert_eq!(users[0]["firstSeen"], "2024-01-01T00:00:00Z");
        assert_eq!(users[0]["lastSeen"], "2024-01-05T00:00:00Z");
        assert_eq!(users[0]["accountSid"], "S-1-5-21-1");
        assert_eq!(users[1]["lastSeen"], "2024-01-03T00:00:00Z");
    }
}
