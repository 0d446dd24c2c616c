//! Client secrets. They are machine-made and long, so a fast hash is enough; comparing
//! hashes in constant time keeps timing from telling how much of a guess was right.

use aws_lc_rs::digest::{SHA256, digest};
use rand::Rng;
use subtle::ConstantTimeEq;

/// The characters Entra uses in generated secrets.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~._-";

/// `n` characters drawn from `alphabet`.
fn random_text(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// An opaque device code: 64 characters of the secret alphabet.
pub fn generate_long() -> String {
    random_text(ALPHABET, 64)
}

/// A user code of the device flow: nine letters and digits that do not look alike.
pub fn user_code() -> String {
    random_text(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 9)
}

/// A new 40-character secret, with Entra's `Q~` marker after a three-character prefix.
pub fn generate() -> String {
    format!("{}8Q~{}", random_text(ALPHABET, 2), random_text(ALPHABET, 35))
}

pub fn sha256(secret: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, secret.as_bytes()).as_ref());
    out
}

pub fn matches(secret: &str, stored_sha256: &[u8; 32]) -> bool {
    sha256(secret).ct_eq(stored_sha256).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_secrets_verify_and_differ() {
        let (a, b) = (super::generate(), super::generate());
        assert_eq!(a.len(), 40);
        assert_ne!(a, b);
        assert!(super::matches(&a, &super::sha256(&a)));
        assert!(!super::matches(&b, &super::sha256(&a)));
    }
}
