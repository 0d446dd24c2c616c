//! User passwords, stored as argon2id hashes (PHC strings) and checked in constant time.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(String);

pub fn hash(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches `stored`; a stored value that is not a PHC string never matches.
pub fn matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Spends the time of one check, for a user who does not exist: the answer then does not tell
/// whether the name is taken.
pub fn waste_one_check(password: &str) {
    static DUMMY: std::sync::LazyLock<Option<String>> = std::sync::LazyLock::new(|| hash("not a password").ok());
    if let Some(dummy) = DUMMY.as_deref() {
        let _ = matches(password, dummy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let stored = hash("Pa$$w0rd~+/=").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(matches("Pa$$w0rd~+/=", &stored));
        assert!(!matches("Pa$$w0rd", &stored));
        assert!(!matches("Pa$$w0rd~+/=", "plain text"));
        assert_ne!(hash("x").unwrap(), hash("x").unwrap(), "salted");
    }
}
