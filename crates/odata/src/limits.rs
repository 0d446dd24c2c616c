/// Bounds on query input, each answered with a clear 400 when passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_filter_length: usize,
    /// Parentheses, `not`, lambdas and `tolower` each add a level.
    pub max_depth: usize,
    pub max_in_values: usize,
    /// MDE's page cap.
    pub max_top: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_filter_length: 8_192,
            max_depth: 32,
            max_in_values: 1_000,
            max_top: 10_000,
        }
    }
}
