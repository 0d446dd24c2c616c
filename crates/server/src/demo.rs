//! A deterministic demo fleet in MDE's own JSON: machines and alerts that look like a real
//! tenant's (names, OS mix, addresses, tags, detections with MITRE techniques and evidence).
//!
//! Every record is a pure function of its index and a fixed seed, so the same fleet comes out
//! on every machine; only timestamps move, relative to the time given, so that the data is
//! always inside the retention period. A few alerts are deliberately odd: older than the
//! default retention, raised on no device, or on a device that is no longer known.

use openmde_model::Timestamp;
use serde_json::{Value, json};

const SEED: u64 = 0x6f70_656e_6d64_6501;
const DAY: i64 = 86_400;

/// SplitMix64: tiny, fast and stable forever, unlike a library RNG's stream.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Random numbers for one record: `stream` picks the record kind, `index` the record.
struct Dice(u64);

impl Dice {
    fn new(stream: u64, index: u64) -> Self {
        Dice(mix(SEED ^ mix(stream) ^ index.wrapping_mul(0x2545_f491_4f6c_dd1d)))
    }
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn hex(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len + 16);
        while out.len() < len {
            out.push_str(&format!("{:016x}", self.next()));
        }
        out.truncate(len);
        out
    }
    fn guid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

struct Os {
    platform: &'static str,
    versions: &'static [&'static str],
    build: Option<i64>,
    agent: &'static str,
    server: bool,
    processor: &'static str,
}

const OS_MIX: [(u64, Os); 6] = [
    (
        35,
        Os {
            platform: "Windows11",
            versions: &["22H2", "23H2", "24H2"],
            build: Some(22631),
            agent: "10.8760.22631.3880",
            server: false,
            processor: "x64",
        },
    ),
    (
        28,
        Os {
            platform: "Windows10",
            versions: &["21H2", "22H2"],
            build: Some(19045),
            agent: "10.8760.19045.4529",
            server: false,
            processor: "x64",
        },
    ),
    (
        12,
        Os {
            platform: "WindowsServer2022",
            versions: &["21H2"],
            build: Some(20348),
            agent: "10.8760.20348.2527",
            server: true,
            processor: "x64",
        },
    ),
    (
        8,
        Os {
            platform: "WindowsServer2019",
            versions: &["1809"],
            build: Some(17763),
            agent: "10.8760.17763.5936",
            server: true,
            processor: "x64",
        },
    ),
    (
        11,
        Os {
            platform: "Linux",
            versions: &["22.04", "24.04", "9.4"],
            build: None,
            agent: "101.24052.0002",
            server: true,
            processor: "x64",
        },
    ),
    (
        6,
        Os {
            platform: "macOS",
            versions: &["14.5", "15.1"],
            build: None,
            agent: "101.24062.0007",
            server: false,
            processor: "ARM64",
        },
    ),
];

const DEPARTMENTS: [&str; 8] = ["fin", "hr", "eng", "sales", "mkt", "legal", "ops", "it"];
const SERVER_ROLES: [&str; 8] = ["web", "sql", "dc", "file", "app", "build", "jump", "mail"];
const PEOPLE: [(&str, &str); 12] = [
    ("adele.vance", "Adele Vance"),
    ("alex.wilber", "Alex Wilber"),
    ("diego.siciliani", "Diego Siciliani"),
    ("grady.archie", "Grady Archie"),
    ("henrietta.mueller", "Henrietta Mueller"),
    ("isaiah.langer", "Isaiah Langer"),
    ("johanna.lorenz", "Johanna Lorenz"),
    ("lee.gu", "Lee Gu"),
    ("lidia.holloway", "Lidia Holloway"),
    ("megan.bowen", "Megan Bowen"),
    ("nestor.wilke", "Nestor Wilke"),
    ("pradeep.gupta", "Pradeep Gupta"),
];
const ANALYSTS: [&str; 3] = ["secop1@contoso.com", "secop2@contoso.com", "API Action"];

/// What kind of evidence a detection comes with.
#[derive(Clone, Copy)]
enum Evidence {
    File,
    Process,
    Network,
    Identity,
}

struct Detection {
    title: &'static str,
    category: &'static str,
    severity: &'static str,
    source: &'static str,
    mitre: &'static [&'static str],
    threat: Option<(&'static str, &'static str)>,
    file: (&'static str, &'static str),
    evidence: Evidence,
}

const DETECTIONS: [Detection; 14] = [
    Detection {
        title: "Suspicious PowerShell command line",
        category: "Execution",
        severity: "Medium",
        source: "WindowsDefenderAtp",
        mitre: &["T1059.001", "T1027"],
        threat: None,
        file: ("powershell.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0"),
        evidence: Evidence::Process,
    },
    Detection {
        title: "EICAR_Test_File malware was detected",
        category: "Malware",
        severity: "Informational",
        source: "WindowsDefenderAv",
        mitre: &[],
        threat: Some(("EICAR_Test_File", "Virus:DOS/EICAR_Test_File")),
        file: ("eicar.com", "C:\\Users\\Public\\Downloads"),
        evidence: Evidence::File,
    },
    Detection {
        title: "Meterpreter post-exploitation tool",
        category: "CommandAndControl",
        severity: "High",
        source: "WindowsDefenderAtp",
        mitre: &["T1071.001", "T1055", "T1105"],
        threat: Some(("Meterpreter", "HackTool:Win32/Meterpreter")),
        file: ("update.exe", "C:\\ProgramData\\Temp"),
        evidence: Evidence::Network,
    },
    Detection {
        title: "Credential dumping activity observed",
        category: "CredentialAccess",
        severity: "High",
        source: "WindowsDefenderAtp",
        mitre: &["T1003.001"],
        threat: Some(("Mimikatz", "HackTool:Win32/Mimikatz")),
        file: ("procdump64.exe", "C:\\Windows\\Temp"),
        evidence: Evidence::Process,
    },
    Detection {
        title: "Ransomware behavior detected in the file system",
        category: "Ransomware",
        severity: "High",
        source: "WindowsDefenderAv",
        mitre: &["T1486", "T1490"],
        threat: Some(("LockBit", "Ransom:Win32/LockBit.AA")),
        file: ("svch0st.exe", "C:\\Users\\Public"),
        evidence: Evidence::File,
    },
    Detection {
        title: "Suspicious scheduled task",
        category: "Persistence",
        severity: "Medium",
        source: "WindowsDefenderAtp",
        mitre: &["T1053.005"],
        threat: None,
        file: ("schtasks.exe", "C:\\Windows\\System32"),
        evidence: Evidence::Process,
    },
    Detection {
        title: "Connection to a known malicious domain",
        category: "CommandAndControl",
        severity: "Medium",
        source: "WindowsDefenderSmartScreen",
        mitre: &["T1071"],
        threat: None,
        file: ("chrome.exe", "C:\\Program Files\\Google\\Chrome\\Application"),
        evidence: Evidence::Network,
    },
    Detection {
        title: "Suspicious process injection observed",
        category: "DefenseEvasion",
        severity: "Medium",
        source: "WindowsDefenderAtp",
        mitre: &["T1055.012"],
        threat: None,
        file: ("rundll32.exe", "C:\\Windows\\System32"),
        evidence: Evidence::Process,
    },
    Detection {
        title: "Potentially unwanted application",
        category: "SuspiciousActivity",
        severity: "Low",
        source: "WindowsDefenderAv",
        mitre: &[],
        threat: Some(("FusionCore", "PUA:Win32/FusionCore")),
        file: ("setup_free.exe", "C:\\Users\\Public\\Downloads"),
        evidence: Evidence::File,
    },
    Detection {
        title: "Anomalous account lookups",
        category: "Discovery",
        severity: "Low",
        source: "WindowsDefenderAtp",
        mitre: &["T1087.002", "T1069.002"],
        threat: None,
        file: ("net.exe", "C:\\Windows\\System32"),
        evidence: Evidence::Process,
    },
    Detection {
        title: "Suspicious remote WMI execution",
        category: "LateralMovement",
        severity: "Medium",
        source: "WindowsDefenderAtp",
        mitre: &["T1047", "T1021.006"],
        threat: None,
        file: ("wmiprvse.exe", "C:\\Windows\\System32\\wbem"),
        evidence: Evidence::Process,
    },
    Detection {
        title: "Reverse shell opened from a bash process",
        category: "Execution",
        severity: "High",
        source: "WindowsDefenderAtp",
        mitre: &["T1059.004"],
        threat: None,
        file: ("bash", "/usr/bin"),
        evidence: Evidence::Network,
    },
    Detection {
        title: "Impossible travel activity",
        category: "InitialAccess",
        severity: "Medium",
        source: "MCAS",
        mitre: &["T1078"],
        threat: None,
        file: ("", ""),
        evidence: Evidence::Identity,
    },
    Detection {
        title: "Password spray against the tenant",
        category: "CredentialAccess",
        severity: "High",
        source: "AAD",
        mitre: &["T1110.003"],
        threat: None,
        file: ("", ""),
        evidence: Evidence::Identity,
    },
];

/// A fleet of `machines` machines and `alerts` alerts in tenant `tenant_id`, dated around `now`.
pub struct Fleet {
    pub machines: u64,
    pub alerts: u64,
    pub tenant_id: String,
    pub now: Timestamp,
}

impl Fleet {
    pub fn machine_id(&self, index: u64) -> String {
        Dice::new(1, index).hex(40)
    }

    fn os(&self, index: u64) -> &'static Os {
        let mut roll = Dice::new(2, index).below(100);
        for (weight, os) in &OS_MIX {
            if roll < *weight {
                return os;
            }
            roll -= weight;
        }
        &OS_MIX[0].1
    }

    pub fn machine_dns_name(&self, index: u64) -> String {
        let os = self.os(index);
        let mut dice = Dice::new(3, index);
        if os.server {
            let env = dice.pick(&["prd", "stg", "dev"]);
            format!("{}-{env}-{:02}.corp.contoso.com", dice.pick(&SERVER_ROLES), index % 100)
        } else {
            let kind = if os.platform == "macOS" {
                "mbp"
            } else {
                dice.pick(&["lt", "ws"])
            };
            format!("{}-{kind}-{:04}.corp.contoso.com", dice.pick(&DEPARTMENTS), index)
        }
    }

    fn timestamp(&self, seconds_ago: i64) -> String {
        self.now.plus_seconds(-seconds_ago).to_string()
    }

    pub fn machine(&self, index: u64) -> Value {
        let os = self.os(index);
        let mut d = Dice::new(4, index);
        let subnet = if os.server { 20 } else { 100 + index / 250 % 100 };
        let ip = format!("10.{}.{}.{}", subnet % 256, index / 250 % 256, 10 + index % 240);
        let mac = d.hex(12).to_ascii_uppercase();
        let wifi = !os.server && d.chance(50);
        let mut tags: Vec<&str> = Vec::new();
        if os.server {
            tags.push("Servers");
            if d.chance(50) {
                tags.push("Production");
            }
        } else if d.chance(20) {
            tags.push(*d.pick(&["Finance", "VIP", "Contractors", "Pilot ring"]));
        }
        let active = d.chance(92);
        let last_seen = if active {
            d.below(20 * 3600) as i64
        } else {
            (3 + d.below(25) as i64) * DAY
        };
        let aad_joined = !os.server && os.platform.starts_with("Windows");
        let vm = os.server && d.chance(60);
        json!({
            "id": self.machine_id(index),
            "mergedIntoMachineId": null,
            "isPotentialDuplication": false,
            "isExcluded": false,
            "exclusionReason": null,
            "computerDnsName": self.machine_dns_name(index),
            "firstSeen": self.timestamp((40 + d.below(500) as i64) * DAY + d.below(DAY as u64) as i64),
            "lastSeen": self.timestamp(last_seen),
            "osPlatform": os.platform,
            "osVersion": null,
            "osProcessor": os.processor,
            "version": d.pick(os.versions),
            "lastIpAddress": ip,
            "lastExternalIpAddress": format!("203.0.113.{}", 1 + d.below(254)),
            "agentVersion": os.agent,
            "osBuild": os.build,
            "healthStatus": if active { "Active" } else { "Inactive" },
            "deviceValue": if tags.contains(&"VIP") || tags.contains(&"Production") { "High" } else { "Normal" },
            "rbacGroupId": 0,
            "rbacGroupName": null,
            "riskScore": d.pick(&["None", "Informational", "Low", "Low", "Medium", "High"]),
            "exposureLevel": d.pick(&["Low", "Medium", "Medium", "High"]),
            "isAadJoined": aad_joined,
            "aadDeviceId": if aad_joined { Value::String(d.guid()) } else { Value::Null },
            "machineTags": tags,
            "defenderAvStatus": if d.chance(90) { "Updated" } else { "NotUpdated" },
            "onboardingStatus": "Onboarded",
            "osArchitecture": if os.processor == "ARM64" { "ARM64" } else { "64-bit" },
            "managedBy": if os.platform.starts_with("Windows") { "Intune" } else { "MicrosoftDefenderForEndpoint" },
            "managedByStatus": "Success",
            "ipAddresses": [
                {"ipAddress": ip, "macAddress": mac, "type": if wifi { "IEEE80211" } else { "Ethernet" }, "operationalStatus": "Up"},
                {"ipAddress": "127.0.0.1", "macAddress": null, "type": "SoftwareLoopback", "operationalStatus": "Up"},
            ],
            "vmMetadata": if vm {
                json!({"vmId": d.guid(), "cloudProvider": "Azure",
                       "resourceId": format!("/subscriptions/{}/resourceGroups/rg-prod/providers/Microsoft.Compute/virtualMachines/{}",
                                             d.guid(), self.machine_dns_name(index).split('.').next().unwrap_or_default()),
                       "subscriptionId": d.guid()})
            } else { Value::Null },
        })
    }

    /// Whether alert `index` was raised on no device (an identity detection).
    fn alert_has_no_machine(index: u64) -> bool {
        index % 67 == 3
    }

    /// Whether alert `index` names a device this fleet does not have.
    fn alert_machine_is_gone(index: u64) -> bool {
        index % 101 == 7
    }

    /// Whether alert `index` was last updated beyond the default retention (180 days).
    fn alert_is_old(index: u64) -> bool {
        index % 50 == 49
    }

    /// Whether `GET /api/alerts/{id}/machine` finds a machine for `alert`, the alert `index`.
    pub fn alert_resolves_to_machine(index: u64, alert: &Value) -> bool {
        !alert["machineId"].is_null() && !Self::alert_machine_is_gone(index) && !Self::alert_is_old(index)
    }

    pub fn alert_id(&self, index: u64) -> String {
        let mut d = Dice::new(5, index);
        let ticks = 638_600_000_000_000_000 + index * 7_919_000_000 + d.below(1_000_000_000);
        format!("da{ticks}_{}", d.next() as i32)
    }

    pub fn alert(&self, index: u64) -> Value {
        let mut d = Dice::new(6, index);
        let detection = d.pick(&DETECTIONS);
        let identity = matches!(detection.evidence, Evidence::Identity) || Self::alert_has_no_machine(index);
        let machine_index = d.below(self.machines.max(1));
        let (machine_id, dns_name) = if identity || self.machines == 0 {
            (Value::Null, Value::Null)
        } else if Self::alert_machine_is_gone(index) {
            (
                Value::String(d.hex(40)),
                Value::String(format!("retired-ws-{:04}.corp.contoso.com", index % 10_000)),
            )
        } else {
            (
                Value::String(self.machine_id(machine_index)),
                Value::String(self.machine_dns_name(machine_index)),
            )
        };
        let age = if Self::alert_is_old(index) {
            (200 + d.below(160) as i64) * DAY
        } else {
            d.below(45 * DAY as u64) as i64
        };
        let created = age + 60;
        let (user, display) = d.pick(&PEOPLE);
        let status = *d.pick(&["New", "New", "New", "InProgress", "Resolved"]);
        let resolved = status == "Resolved";
        let updated = if resolved || status == "InProgress" {
            age - (age / 3).min(3 * 3600)
        } else {
            age
        };
        let (classification, determination) = if resolved {
            let verdict = d.pick(&[
                ("TruePositive", "Malware"),
                ("FalsePositive", "NotMalicious"),
                ("InformationalExpectedActivity", "SecurityTesting"),
            ]);
            (Value::from(verdict.0), Value::from(verdict.1))
        } else {
            (Value::Null, Value::Null)
        };
        let evidence = self.evidence(&mut d, detection, user, age);
        let comments = if resolved {
            json!([{"comment": "Reviewed and closed by the SOC", "createdBy": ANALYSTS[1], "createdTime": self.timestamp(updated)}])
        } else {
            json!([])
        };
        json!({
            "id": self.alert_id(index),
            "incidentId": 1_000 + index / 3,
            "investigationId": if d.chance(60) { Value::from(10_000 + index) } else { Value::Null },
            "assignedTo": if status == "New" { Value::Null } else { Value::from(*d.pick(&ANALYSTS)) },
            "severity": detection.severity,
            "status": status,
            "classification": classification,
            "determination": determination,
            "investigationState": *d.pick(&["Running", "SuccessfullyRemediated", "Benign", "PendingApproval", "UnsupportedAlertType"]),
            "detectionSource": detection.source,
            "detectorId": d.guid(),
            "category": detection.category,
            "threatFamilyName": detection.threat.map(|t| t.0),
            "title": detection.title,
            "description": format!("{} on {}. Review the process tree and the related evidence.\nUser: {display}.",
                                   detection.title, dns_name.as_str().unwrap_or("the tenant")),
            "alertCreationTime": self.timestamp(created),
            "firstEventTime": self.timestamp(created + 600),
            "lastEventTime": self.timestamp(created + 30),
            "lastUpdateTime": self.timestamp(updated),
            "resolvedTime": if resolved { Value::String(self.timestamp(updated)) } else { Value::Null },
            "machineId": machine_id,
            "computerDnsName": dns_name,
            "rbacGroupName": null,
            "aadTenantId": self.tenant_id,
            "threatName": detection.threat.map(|t| t.1),
            "mitreTechniques": detection.mitre,
            "relatedUser": {"userName": user, "domainName": "CONTOSO"},
            "loggedOnUsers": if identity { json!([]) } else { json!([{"accountName": user, "domainName": "CONTOSO"}]) },
            "comments": comments,
            "evidence": evidence,
            "domains": [],
        })
    }

    fn evidence(&self, d: &mut Dice, detection: &Detection, user: &str, age: i64) -> Value {
        let when = self.timestamp(age + 120);
        let upn = format!("{user}@contoso.com");
        let sid = format!("S-1-5-21-1004336348-1177238915-682003330-{}", 1000 + d.below(9000));
        let user_evidence = json!({"entityType": "User", "evidenceCreationTime": when, "accountName": user,
            "domainName": "CONTOSO", "userSid": sid, "aadUserId": d.guid(), "userPrincipalName": upn});
        let (file_name, folder) = detection.file;
        let file = |d: &mut Dice| {
            json!({"entityType": "File", "evidenceCreationTime": when, "sha1": d.hex(40), "sha256": d.hex(64),
                   "fileName": file_name, "filePath": folder, "detectionStatus": "Detected"})
        };
        let process = |d: &mut Dice| {
            json!({"entityType": "Process", "evidenceCreationTime": when, "sha1": d.hex(40), "sha256": d.hex(64),
                   "fileName": file_name, "filePath": folder, "processId": 1000 + d.below(30_000),
                   "processCommandLine": format!("{file_name} -nop -w hidden -enc {}", d.hex(24)),
                   "processCreationTime": when, "parentProcessId": 500 + d.below(5000),
                   "parentProcessCreationTime": when, "parentProcessFileName": "explorer.exe",
                   "parentProcessFilePath": "C:\\Windows", "detectionStatus": "Detected"})
        };
        let items = match detection.evidence {
            Evidence::File => vec![file(d), user_evidence],
            Evidence::Process => vec![process(d), user_evidence],
            Evidence::Network => vec![
                process(d),
                json!({"entityType": "Ip", "evidenceCreationTime": when, "ipAddress": format!("198.51.100.{}", 1 + d.below(254))}),
                json!({"entityType": "Url", "evidenceCreationTime": when,
                       "url": format!("http://{}.example-c2.net/beacon", d.hex(8))}),
            ],
            Evidence::Identity => vec![
                user_evidence,
                json!({"entityType": "Ip", "evidenceCreationTime": when, "ipAddress": format!("192.0.2.{}", 1 + d.below(254))}),
            ],
        };
        Value::Array(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmde_model::{EntityKind, Record};

    fn fleet() -> Fleet {
        Fleet {
            machines: 50,
            alerts: 200,
            tenant_id: "t".into(),
            now: Timestamp::parse("2026-12-01T00:00:00Z").unwrap(),
        }
    }

    #[test]
    fn records_are_valid_and_deterministic() {
        let fleet = fleet();
        for i in 0..fleet.machines {
            let machine = fleet.machine(i);
            assert_eq!(machine, fleet.machine(i));
            Record::new(EntityKind::Machine, machine.as_object().unwrap().clone()).unwrap();
        }
        let mut ids = std::collections::HashSet::new();
        for i in 0..fleet.alerts {
            let alert = fleet.alert(i);
            Record::new(EntityKind::Alert, alert.as_object().unwrap().clone()).unwrap();
            assert!(ids.insert(fleet.alert_id(i)));
        }
        let id = fleet.machine_id(7);
        assert!(id.len() == 40 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn the_mix_is_realistic() {
        let fleet = fleet();
        let platforms: std::collections::HashSet<String> = (0..fleet.machines)
            .map(|i| fleet.machine(i)["osPlatform"].as_str().unwrap().to_string())
            .collect();
        assert!(platforms.len() >= 4, "{platforms:?}");
        let resolving = (0..fleet.alerts)
            .filter(|&i| Fleet::alert_resolves_to_machine(i, &fleet.alert(i)))
            .count();
        assert!(resolving > 140 && resolving < 195, "{resolving}");
        let no_machine = (0..fleet.alerts)
            .filter(|&i| fleet.alert(i)["machineId"].is_null())
            .count();
        assert!(no_machine >= 3);
    }
}
