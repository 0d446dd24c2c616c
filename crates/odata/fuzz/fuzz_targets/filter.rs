#![no_main]
//! Any text: the parser answers without panicking, and what it accepts prints back to a filter
//! that parses to the same tree.

use libfuzzer_sys::fuzz_target;
use openmde_odata::{Limits, QueryOptions, parse_filter};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = Limits::default();
    let _ = QueryOptions::parse(text, &limits);
    if let Ok(expr) = parse_filter(text, &limits) {
        // Printing adds parentheses, so the reprint may nest deeper than the input did.
        let roomy = Limits { max_depth: 100_000, max_filter_length: usize::MAX, ..limits };
        let printed = expr.to_string();
        let again = parse_filter(&printed, &roomy).expect("a printed filter parses");
        assert_eq!(again.to_string(), printed);
    }
});
