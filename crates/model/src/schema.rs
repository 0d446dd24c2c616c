//! The MDE entity types openmde serves, transcribed from `edmx/mde_metadata.xml`.
//!
//! Property lists are in wire order: EDMX declaration order with complex-typed properties moved
//! after the primitive ones, plus the two live-only Machine properties in their observed place.
//! `tests::matches_edmx` checks every list and enum against the EDMX file.

use crate::edm::{ComplexType, EnumType, Kind, defaulted, live_only, nullable, required};

macro_rules! enum_type {
    ($ident:ident, $name:literal, flags = $flags:literal, [$(($member:literal, $value:literal)),* $(,)?]) => {
        pub static $ident: EnumType = EnumType { name: $name, is_flags: $flags, members: &[$(($member, $value)),*] };
    };
}

enum_type!(
    EXCLUSION_REASON,
    "ExclusionReason",
    flags = false,
    [
        ("Other", 0),
        ("InactiveDevice", 1),
        ("DuplicateDevice", 2),
        ("DeviceDoesNotExist", 3),
        ("DeviceOutOfScope", 4)
    ]
);
enum_type!(
    MACHINE_HEALTH_STATUS,
    "MachineHealthStatus",
    flags = false,
    [
        ("Active", 0),
        ("Inactive", 1),
        ("ImpairedCommunication", 2),
        ("NoSensorData", 3),
        ("NoSensorDataImpairedCommunication", 4),
        ("Unknown", 5)
    ]
);
enum_type!(
    DEVICE_VALUE,
    "DeviceValue",
    flags = false,
    [("Normal", 0), ("Low", 1), ("High", 2)]
);
enum_type!(
    RISK_SCORE,
    "RiskScore",
    flags = false,
    [
        ("None", 0),
        ("Informational", 5),
        ("Low", 10),
        ("Medium", 20),
        ("High", 30)
    ]
);
enum_type!(
    EXPOSURE_LEVEL,
    "ExposureLevel",
    flags = false,
    [("None", 0), ("Low", 10), ("Medium", 20), ("High", 30)]
);
enum_type!(
    ONBOARDING_STATUS,
    "OnboardingStatus",
    flags = false,
    [
        ("InsufficientInfo", 0),
        ("Onboarded", 1),
        ("CanBeOnboarded", 2),
        ("Unsupported", 3)
    ]
);
enum_type!(
    DEVICE_MANAGED_BY,
    "DeviceManagedBy",
    flags = false,
    [
        ("Unknown", 0),
        ("Intune", 1),
        ("SystemCenterConfigurationManager", 2),
        ("MicrosoftDefenderForEndpoint", 3)
    ]
);
enum_type!(
    DEVICE_MANAGED_BY_STATUS,
    "DeviceManagedByStatus",
    flags = false,
    [("Unknown", 0), ("Success", 1), ("Error", 2)]
);
enum_type!(
    INTERFACE_TYPE,
    "InterfaceType",
    flags = false,
    [
        ("Unknown", 0),
        ("Other", 1),
        ("Ethernet", 6),
        ("TokenRing", 9),
        ("PPP", 23),
        ("SoftwareLoopback", 24),
        ("ATM", 37),
        ("IEEE80211", 71),
        ("Tunnel", 131),
        ("IEEE1394", 144)
    ]
);
enum_type!(
    IP_INTERFACE_OPERATIONAL_STATUS,
    "IpInterfaceOperationalStatus",
    flags = false,
    [
        ("Up", 1),
        ("Down", 2),
        ("Testing", 3),
        ("Unknown", 4),
        ("Dormant", 5),
        ("Present", 6),
        ("LowerLayerDown", 7)
    ]
);
enum_type!(
    VM_CLOUD_PROVIDER,
    "vmCloudProvider",
    flags = false,
    [("Unknown", 0), ("Azure", 1)]
);
enum_type!(
    ALERT_SEVERITY,
    "AlertSeverity",
    flags = false,
    [
        ("UnSpecified", 0),
        ("Informational", 32),
        ("Low", 64),
        ("Medium", 128),
        ("High", 256)
    ]
);
enum_type!(
    ALERT_STATUS,
    "AlertStatus",
    flags = false,
    [
        ("Unknown", 0),
        ("Unspecified", 1),
        ("New", 2),
        ("InProgress", 4),
        ("Resolved", 8),
        ("Hidden", 16)
    ]
);
enum_type!(
    ALERT_CLASSIFICATION,
    "AlertClassification",
    flags = false,
    [
        ("Unknown", 0),
        ("FalsePositive", 10),
        ("TruePositive", 20),
        ("InformationalExpectedActivity", 30)
    ]
);
enum_type!(
    ALERT_DETERMINATION,
    "AlertDetermination",
    flags = false,
    [
        ("NotAvailable", 0),
        ("Apt", 10),
        ("Malware", 20),
        ("SecurityPersonnel", 30),
        ("SecurityTesting", 40),
        ("UnwantedSoftware", 50),
        ("Other", 60),
        ("MultiStagedAttack", 70),
        ("CompromisedAccount", 80),
        ("Phishing", 90),
        ("MaliciousUserActivity", 100),
        ("NotMalicious", 110),
        ("NoEnoughDataToValidate", 120),
        ("ConfirmedActivity", 130),
        ("LineOfBusinessApplication", 140)
    ]
);
enum_type!(
    INVESTIGATION_STATE,
    "InvestigationState",
    flags = true,
    [
        ("Unknown", 0),
        ("Terminated", 1),
        ("SuccessfullyRemediated", 2),
        ("Benign", 4),
        ("Failed", 8),
        ("PartiallyRemediated", 16),
        ("Running", 32),
        ("PendingApproval", 64),
        ("PendingResource", 128),
        ("Disabled", 256),
        ("Queued", 512),
        ("InnerFailure", 1024),
        ("PreexistingAlert", 2048),
        ("UnsupportedOs", 4096),
        ("UnsupportedAlertType", 8192),
        ("SuppressedAlert", 16384),
        ("PartiallyInvestigated", 32768),
        ("TerminatedByUser", 65536),
        ("TerminatedBySystem", 131072)
    ]
);
enum_type!(
    DETECTION_SOURCE,
    "DetectionSource",
    flags = true,
    [
        ("Unknown", 0),
        ("WindowsDefenderAtp", 1),
        ("WindowsDefenderAv", 2),
        ("WindowsDefenderSmartScreen", 4),
        ("iSight", 8),
        ("Bitdefender", 16),
        ("CustomerTI", 32),
        ("Ziften", 64),
        ("Lookout", 128),
        ("SentinelOne", 256),
        ("ThirdPartySensors", 464),
        ("OfficeATP", 512),
        ("AutomatedInvestigation", 1024),
        ("ThreatExperts", 2048),
        ("CustomDetection", 4096),
        ("AzureATP", 8192),
        ("MCAS", 16384),
        ("MTP", 32768),
        ("AAD", 65536),
        ("MAPG", 131072),
        ("Manual", 262144),
        ("DLP", 524288),
        ("AppGPolicy", 1048576),
        ("AppGDetection", 2097152),
        ("MDC", 4194304),
        ("Compliance", 8388608),
        ("Forms", 16777216),
        ("MailFlow", 33554432),
        ("MSTIC", 67108864),
        ("Unspecified", 134217728),
        ("Sentinel", 268435456),
        ("All", 536870911),
        ("ThirdParty", 1073741832),
        ("DefenderForIoT", 1073741833),
        ("DefenderForServers", 1073741834),
        ("DefenderForStorage", 1073741835),
        ("DefenderForDNS", 1073741836),
        ("DefenderForDatabases", 1073741837),
        ("DefenderForContainers", 1073741838),
        ("DefenderForNetwork", 1073741839),
        ("DefenderForAppService", 1073741840),
        ("DefenderForKeyVault", 1073741841),
        ("DefenderForResourceManager", 1073741842),
        ("DefenderForApiManagement", 1073741843),
        ("NRTAlerts", 1073741844),
        ("ScheduledAlerts", 1073741845),
        ("MicrosoftDefenderThreatIntelligenceAnalytics", 1073741846),
        ("BuiltInML", 1073741847),
        ("MicrosoftInsiderRiskManagement", 1073741848),
        ("Nsn", 1073741849),
        ("DefenderForAIServices", 1073741850),
        ("SecurityCopilot", 1073741851)
    ]
);
enum_type!(
    EVIDENCE_ENTITY_TYPE,
    "EntityType",
    flags = false,
    [
        ("Url", 1),
        ("User", 2),
        ("File", 4),
        ("Machine", 8),
        ("Ip", 16),
        ("Process", 32),
        ("Mailbox", 64),
        ("MailCluster", 128),
        ("MailMessage", 256),
        ("SecurityGroup", 512),
        ("RegistryKey", 1024),
        ("Registry", 2048),
        ("CommandLine", 4096),
        ("CloudApplication", 8192),
        ("OAuthApplication", 16384)
    ]
);

use Kind::{Boolean, DateTimeOffset, Guid, Int32, Int64, Strings};
const STRING: Kind = Kind::String;

pub static MACHINE_IP_ADDRESS: ComplexType = ComplexType {
    name: "MachineIpAddress",
    is_entity: false,
    properties: &[
        nullable("ipAddress", STRING),
        nullable("macAddress", STRING),
        nullable("type", Kind::Enum(&INTERFACE_TYPE)),
        nullable("operationalStatus", Kind::Enum(&IP_INTERFACE_OPERATIONAL_STATUS)),
    ],
};

pub static VM_METADATA: ComplexType = ComplexType {
    name: "VmMetadata",
    is_entity: false,
    properties: &[
        nullable("vmId", STRING),
        defaulted("cloudProvider", Kind::Enum(&VM_CLOUD_PROVIDER), "\"Unknown\""),
        nullable("resourceId", STRING),
        nullable("subscriptionId", STRING),
    ],
};

pub static MACHINE: ComplexType = ComplexType {
    name: "Machine",
    is_entity: true,
    properties: &[
        required("id", STRING),
        nullable("mergedIntoMachineId", STRING),
        defaulted("isPotentialDuplication", Boolean, "false"),
        defaulted("isExcluded", Boolean, "false"),
        nullable("exclusionReason", Kind::Enum(&EXCLUSION_REASON)),
        nullable("computerDnsName", STRING),
        nullable("firstSeen", DateTimeOffset),
        nullable("lastSeen", DateTimeOffset),
        nullable("osPlatform", STRING),
        live_only("osVersion", STRING),
        nullable("osProcessor", STRING),
        nullable("version", STRING),
        nullable("lastIpAddress", STRING),
        nullable("lastExternalIpAddress", STRING),
        nullable("agentVersion", STRING),
        nullable("osBuild", Int64),
        defaulted("healthStatus", Kind::Enum(&MACHINE_HEALTH_STATUS), "\"Unknown\""),
        defaulted("deviceValue", Kind::Enum(&DEVICE_VALUE), "\"Normal\""),
        defaulted("rbacGroupId", Int32, "0"),
        nullable("rbacGroupName", STRING),
        nullable("riskScore", Kind::Enum(&RISK_SCORE)),
        defaulted("exposureLevel", Kind::Enum(&EXPOSURE_LEVEL), "\"None\""),
        nullable("isAadJoined", Boolean),
        nullable("aadDeviceId", Guid),
        nullable("machineTags", Strings),
        live_only("defenderAvStatus", STRING),
        defaulted(
            "onboardingStatus",
            Kind::Enum(&ONBOARDING_STATUS),
            "\"InsufficientInfo\"",
        ),
        nullable("osArchitecture", STRING),
        defaulted("managedBy", Kind::Enum(&DEVICE_MANAGED_BY), "\"Unknown\""),
        defaulted("managedByStatus", Kind::Enum(&DEVICE_MANAGED_BY_STATUS), "\"Unknown\""),
        nullable("ipAddresses", Kind::ComplexCollection(&MACHINE_IP_ADDRESS)),
        nullable("vmMetadata", Kind::Complex(&VM_METADATA)),
    ],
};

pub static ALERT_RELATED_USER: ComplexType = ComplexType {
    name: "AlertRelatedUser",
    is_entity: false,
    properties: &[nullable("userName", STRING), nullable("domainName", STRING)],
};

pub static LOGGED_ON_USER: ComplexType = ComplexType {
    name: "LoggedOnUser",
    is_entity: false,
    properties: &[nullable("accountName", STRING), nullable("domainName", STRING)],
};

pub static ALERT_COMMENT: ComplexType = ComplexType {
    name: "AlertComment",
    is_entity: false,
    properties: &[
        nullable("comment", STRING),
        nullable("createdBy", STRING),
        required("createdTime", DateTimeOffset),
    ],
};

/// The EDMX declares `Domain` as an empty complex type; elements are kept as imported.
pub static DOMAIN: ComplexType = ComplexType {
    name: "Domain",
    is_entity: false,
    properties: &[],
};

pub static ALERT_EVIDENCE: ComplexType = ComplexType {
    name: "AlertEvidence",
    is_entity: false,
    properties: &[
        required("entityType", Kind::Enum(&EVIDENCE_ENTITY_TYPE)),
        required("evidenceCreationTime", DateTimeOffset),
        nullable("sha1", STRING),
        nullable("sha256", STRING),
        nullable("fileName", STRING),
        nullable("filePath", STRING),
        nullable("processId", Int64),
        nullable("processCommandLine", STRING),
        nullable("processCreationTime", DateTimeOffset),
        nullable("parentProcessId", Int64),
        nullable("parentProcessCreationTime", DateTimeOffset),
        nullable("parentProcessFileName", STRING),
        nullable("parentProcessFilePath", STRING),
        nullable("ipAddress", STRING),
        nullable("url", STRING),
        nullable("registryKey", STRING),
        nullable("registryHive", STRING),
        nullable("registryValueType", STRING),
        nullable("registryValue", STRING),
        nullable("registryValueName", STRING),
        nullable("accountName", STRING),
        nullable("domainName", STRING),
        nullable("userSid", STRING),
        nullable("aadUserId", STRING),
        nullable("userPrincipalName", STRING),
        nullable("detectionStatus", STRING),
    ],
};

pub static ALERT: ComplexType = ComplexType {
    name: "Alert",
    is_entity: true,
    properties: &[
        required("id", STRING),
        nullable("incidentId", Int64),
        nullable("investigationId", Int64),
        nullable("assignedTo", STRING),
        defaulted("severity", Kind::Enum(&ALERT_SEVERITY), "\"UnSpecified\""),
        defaulted("status", Kind::Enum(&ALERT_STATUS), "\"Unknown\""),
        nullable("classification", Kind::Enum(&ALERT_CLASSIFICATION)),
        nullable("determination", Kind::Enum(&ALERT_DETERMINATION)),
        nullable("investigationState", Kind::Enum(&INVESTIGATION_STATE)),
        nullable("detectionSource", Kind::Enum(&DETECTION_SOURCE)),
        nullable("detectorId", STRING),
        nullable("category", STRING),
        nullable("threatFamilyName", STRING),
        nullable("title", STRING),
        nullable("description", STRING),
        nullable("alertCreationTime", DateTimeOffset),
        nullable("firstEventTime", DateTimeOffset),
        nullable("lastEventTime", DateTimeOffset),
        nullable("lastUpdateTime", DateTimeOffset),
        nullable("resolvedTime", DateTimeOffset),
        nullable("machineId", STRING),
        nullable("computerDnsName", STRING),
        nullable("rbacGroupName", STRING),
        nullable("aadTenantId", STRING),
        nullable("threatName", STRING),
        nullable("mitreTechniques", Strings),
        nullable("relatedUser", Kind::Complex(&ALERT_RELATED_USER)),
        nullable("loggedOnUsers", Kind::ComplexCollection(&LOGGED_ON_USER)),
        nullable("comments", Kind::ComplexCollection(&ALERT_COMMENT)),
        nullable("evidence", Kind::ComplexCollection(&ALERT_EVIDENCE)),
        nullable("domains", Kind::ComplexCollection(&DOMAIN)),
    ],
};

enum_type!(
    DETERMINATION_TYPE,
    "DeterminationType",
    flags = false,
    [
        ("Unknown", 0),
        ("Malware", 1),
        ("Unwanted", 2),
        ("Clean", 3),
        ("Pua", 4)
    ]
);

/// The user of an alert (`GET /api/alerts/{id}/user`), set `Users`.
pub static USER: ComplexType = ComplexType {
    name: "User",
    is_entity: true,
    properties: &[
        required("id", STRING),
        nullable("accountName", STRING),
        nullable("accountDomain", STRING),
        nullable("accountSid", STRING),
        nullable("firstSeen", DateTimeOffset),
        nullable("lastSeen", DateTimeOffset),
        nullable("mostPrevalentMachineId", STRING),
        nullable("leastPrevalentMachineId", STRING),
        nullable("logonTypes", STRING),
        nullable("logOnMachinesCount", Int64),
        nullable("isDomainAdmin", Boolean),
        nullable("isOnlyNetworkUser", Boolean),
    ],
};

/// A file of an alert's evidence, set `Files`.
pub static FILE: ComplexType = ComplexType {
    name: "File",
    is_entity: true,
    properties: &[
        required("sha1", STRING),
        nullable("sha256", STRING),
        nullable("md5", STRING),
        nullable("globalPrevalence", Int64),
        nullable("globalFirstObserved", DateTimeOffset),
        nullable("globalLastObserved", DateTimeOffset),
        nullable("size", Int64),
        nullable("fileType", STRING),
        nullable("isPeFile", Boolean),
        nullable("filePublisher", STRING),
        nullable("fileProductName", STRING),
        nullable("signer", STRING),
        nullable("issuer", STRING),
        nullable("signerHash", STRING),
        nullable("isValidCertificate", Boolean),
        defaulted("determinationType", Kind::Enum(&DETERMINATION_TYPE), "\"Unknown\""),
        nullable("determinationValue", STRING),
    ],
};

/// An IP address of an alert's evidence, set `Ips`.
pub static IP: ComplexType = ComplexType {
    name: "Ip",
    is_entity: true,
    properties: &[required("id", STRING)],
};

/// A domain of an alert's evidence, set `Domains` (the entity type, not the empty complex one).
pub static DOMAIN_ENTITY: ComplexType = ComplexType {
    name: "Domain",
    is_entity: true,
    properties: &[required("host", STRING)],
};

/// Every type above, for checks that walk them all.
pub static ALL_TYPES: [&ComplexType; 13] = [
    &MACHINE,
    &MACHINE_IP_ADDRESS,
    &VM_METADATA,
    &ALERT,
    &ALERT_RELATED_USER,
    &LOGGED_ON_USER,
    &ALERT_COMMENT,
    &ALERT_EVIDENCE,
    &DOMAIN,
    &USER,
    &FILE,
    &IP,
    &DOMAIN_ENTITY,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edm::{Origin, Presence};

    const EDMX: &str = include_str!("../edmx/mde_metadata.xml");

    fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(&tag[start..start + tag[start..].find('"')?])
    }

    /// `(name, type, nullable)` of the EDMX's declaration of `kind` `name`, in order.
    fn edmx_properties(kind: &str, name: &str) -> Vec<(String, String, bool)> {
        let open = format!("<{kind} Name=\"{name}\"");
        let start = EDMX.find(&open).unwrap_or_else(|| panic!("{name} not in EDMX"));
        if EDMX[start..start + EDMX[start..].find('>').unwrap()].ends_with('/') {
            return Vec::new();
        }
        let body = &EDMX[start..start + EDMX[start..].find(&format!("</{kind}>")).unwrap_or(0)];
        body.split("<Property ")
            .skip(1)
            .map(|tag| {
                let tag = &format!(" {}", &tag[..tag.find('>').unwrap()]);
                (
                    attribute(tag, "Name").unwrap().to_string(),
                    attribute(tag, "Type").unwrap().to_string(),
                    attribute(tag, "Nullable") != Some("false"),
                )
            })
            .collect()
    }

    fn edm_type_name(kind: &Kind) -> String {
        let ns = "microsoft.windowsDefenderATP.api";
        match kind {
            Kind::String => "Edm.String".into(),
            Kind::Boolean => "Edm.Boolean".into(),
            Kind::Int32 => "Edm.Int32".into(),
            Kind::Int64 => "Edm.Int64".into(),
            Kind::Guid => "Edm.Guid".into(),
            Kind::DateTimeOffset => "Edm.DateTimeOffset".into(),
            Kind::Strings => "Collection(Edm.String)".into(),
            Kind::Enum(e) => format!("{ns}.{}", e.name),
            Kind::Complex(c) => format!("{ns}.{}", c.name),
            Kind::ComplexCollection(c) => format!("Collection({ns}.{})", c.name),
        }
    }

    #[test]
    fn matches_edmx() {
        for ty in ALL_TYPES {
            let kind = if ty.is_entity { "EntityType" } else { "ComplexType" };
            let mut expected = edmx_properties(kind, ty.name);
            // Wire order: primitives first, then complex-typed properties, each in EDMX order.
            expected.sort_by_key(|(_, t, _)| is_complex_name(t));
            let ours: Vec<_> = ty
                .properties
                .iter()
                .filter(|p| p.origin == Origin::Edmx)
                .map(|p| {
                    (
                        p.name.to_string(),
                        edm_type_name(&p.kind),
                        matches!(p.presence, Presence::Nullable),
                    )
                })
                .collect();
            assert_eq!(ours, expected, "{}", ty.name);
        }
    }

    fn is_complex_name(edm_type: &str) -> bool {
        ALL_TYPES
            .iter()
            .any(|c| edm_type.ends_with(&format!(".{})", c.name)) || edm_type.ends_with(&format!(".{}", c.name)))
    }

    #[test]
    fn enums_match_edmx() {
        let mut seen = 0;
        for ty in ALL_TYPES {
            for p in ty.properties {
                let Kind::Enum(e) = p.kind else { continue };
                let open = format!("<EnumType Name=\"{}\"", e.name);
                let start = EDMX.find(&open).unwrap();
                let head = &EDMX[start..start + EDMX[start..].find('>').unwrap()];
                assert_eq!(head.contains("IsFlags=\"true\""), e.is_flags, "{}", e.name);
                let body = &EDMX[start..start + EDMX[start..].find("</EnumType>").unwrap()];
                let members: Vec<(String, i64)> = body
                    .split("<Member ")
                    .skip(1)
                    .map(|tag| {
                        let tag = format!(" {tag}");
                        (
                            attribute(&tag, "Name").unwrap().to_string(),
                            attribute(&tag, "Value").unwrap().parse().unwrap(),
                        )
                    })
                    .collect();
                let ours: Vec<(String, i64)> = e.members.iter().map(|(n, v)| (n.to_string(), *v)).collect();
                assert_eq!(ours, members, "{}", e.name);
                seen += 1;
            }
        }
        assert!(seen >= 18);
    }

    #[test]
    fn live_machine_order() {
        let names: Vec<_> = MACHINE.properties.iter().map(|p| p.name).collect();
        let live = "id, mergedIntoMachineId, isPotentialDuplication, isExcluded, exclusionReason, computerDnsName, \
            firstSeen, lastSeen, osPlatform, osVersion, osProcessor, version, lastIpAddress, lastExternalIpAddress, \
            agentVersion, osBuild, healthStatus, deviceValue, rbacGroupId, rbacGroupName, riskScore, exposureLevel, \
            isAadJoined, aadDeviceId, machineTags, defenderAvStatus, onboardingStatus, osArchitecture, managedBy, \
            managedByStatus, ipAddresses, vmMetadata";
        assert_eq!(names.join(", "), live);
    }
}
