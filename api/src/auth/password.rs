//! Passwords and device secrets: argon2id hashes (PHC strings), the password policy, and random secrets.
//! Hashing is deliberately slow, so it runs on the blocking pool, never on a request thread.

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::{ApiError, internal};
use crate::settings::PasswordPolicy;

/// An argon2id hash of `secret` with a fresh salt.
pub async fn hash(secret: String) -> Result<String, ApiError> {
    blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(secret.as_bytes(), &salt).map(|hash| hash.to_string()).map_err(|e| internal(&e))
    })
    .await?
}

/// Whether `secret` matches the stored hash. Without a hash (unknown account) a dummy hash is checked, so
/// that an unknown username takes as long as a wrong password.
pub async fn verify(secret: String, stored: Option<String>) -> Result<bool, ApiError> {
    blocking(move || {
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&stored).map_err(|e| internal(&e))?;
        Ok(Argon2::default().verify_password(secret.as_bytes(), &parsed).is_ok())
    })
    .await?
}

/// An argon2id hash of a random password nobody knows, with the default parameters.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$qIs5rd1yPcxHgqQDVOb6Az7JUA3ztmMtmvK0Y4+k2ws";

async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    actix_web::rt::task::spawn_blocking(work).await.map_err(|e| internal(&e))
}

/// A random secret (256 bits, hex) for refresh tokens, device secrets and bootstrap tokens.
pub fn random_secret() -> String {
    hex::encode(random_bytes())
}

/// 32 bytes from the operating system's generator.
pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Checks a new password against the policy's length and mix; history and aging are checked elsewhere.
pub fn check_strength(policy: &PasswordPolicy, password: &str, username: &str) -> Result<(), ApiError> {
    let weak = |message: String| ApiError::unprocessable("weak_password", message);
    if password.chars().count() < policy.min_length {
        return Err(weak(format!("the password must have at least {} characters", policy.min_length)));
    }
    let kinds = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if kinds.iter().filter(|present| **present).count() < policy.min_character_kinds {
        return Err(weak(format!(
            "the password must mix at least {} of: lowercase, uppercase, digits, other characters",
            policy.min_character_kinds
        )));
    }
    if password.to_lowercase().contains(username) {
        return Err(weak("the password must not contain the username".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_wants_length_a_mix_and_no_username() {
        let policy = PasswordPolicy::default();
        assert!(check_strength(&policy, "Short1!", "ada").is_err());
        assert!(check_strength(&policy, "alllowercaseletters", "ada").is_err());
        assert!(check_strength(&policy, "Ada-Lovelace-1815", "ada").is_err());
        assert!(check_strength(&policy, "Analytical-Engine-1843", "ada").is_ok());
    }

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
