//! Resource identifiers of the MDE API and the permissions it defines.

/// Every identifier clients use for the WindowsDefenderATP resource; tokens carry the one
/// requested as `aud`, and the API accepts each.
pub const MDE_RESOURCES: [&str; 5] = [
    "https://api.securitycenter.microsoft.com",
    "https://api.security.microsoft.com",
    "https://api.securitycenter.windows.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
    "fc780465-2017-40d4-a0c5-307022471b92",
];

/// The resource named by a v1 `resource=` value or the prefix of a v2 `/.default` scope.
pub fn resource(identifier: &str) -> Option<&'static str> {
    let identifier = identifier.trim_end_matches('/');
    MDE_RESOURCES
        .iter()
        .copied()
        .find(|r| r.eq_ignore_ascii_case(identifier))
}

/// Application permissions of the WindowsDefenderATP resource that openmde grants.
pub const APPLICATION_PERMISSIONS: [&str; 18] = [
    "Alert.Read.All",
    "Alert.ReadWrite.All",
    "Machine.Read.All",
    "Machine.ReadWrite.All",
    "Machine.Isolate",
    "Machine.Scan",
    "Machine.RestrictExecution",
    "Machine.StopAndQuarantine",
    "Machine.CollectForensics",
    "Machine.Offboard",
    "Machine.LiveResponse",
    "User.Read.All",
    "File.Read.All",
    "Ip.Read.All",
    "URL.Read.All",
    "AdvancedQuery.Read.All",
    "Ti.ReadWrite",
    "Ti.ReadWrite.All",
];

/// Delegated permissions of the WindowsDefenderATP resource: what `scp` can hold.
pub const DELEGATED_PERMISSIONS: [&str; 17] = [
    "Alert.Read",
    "Alert.ReadWrite",
    "Machine.Read",
    "Machine.ReadWrite",
    "Machine.Isolate",
    "Machine.Scan",
    "Machine.RestrictExecution",
    "Machine.StopAndQuarantine",
    "Machine.CollectForensics",
    "Machine.Offboard",
    "Machine.LiveResponse",
    "User.Read.All",
    "File.Read.All",
    "Ip.Read.All",
    "URL.Read.All",
    "AdvancedQuery.Read",
    "Ti.ReadWrite",
];

pub fn delegated_permission(name: &str) -> Option<&'static str> {
    DELEGATED_PERMISSIONS
        .iter()
        .copied()
        .find(|p| p.eq_ignore_ascii_case(name))
}

/// The permission's canonical spelling, if it is one.
pub fn application_permission(name: &str) -> Option<&'static str> {
    APPLICATION_PERMISSIONS
        .iter()
        .copied()
        .find(|p| p.eq_ignore_ascii_case(name))
}

/// The permissions held by the demo application: every Machine and Alert one.
pub fn machine_and_alert_permissions() -> Vec<String> {
    APPLICATION_PERMISSIONS
        .iter()
        .filter(|p| p.starts_with("Machine.") || p.starts_with("Alert."))
        .map(|p| p.to_string())
        .collect()
}
