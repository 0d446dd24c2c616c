/// A query option that cannot be used, with where in its text the problem starts (for
/// `$filter`) and why. The API answers it as 400 `ODataError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", position.map(|p| format!("at position {p}: ")).unwrap_or_default())]
pub struct ODataError {
    pub position: Option<usize>,
    pub message: String,
}

impl ODataError {
    pub fn new(message: impl Into<String>) -> Self {
        ODataError {
            position: None,
            message: message.into(),
        }
    }

    pub fn at(position: usize, message: impl Into<String>) -> Self {
        ODataError {
            position: Some(position),
            message: message.into(),
        }
    }
}
