//! Password hashing: Argon2id for every new hash, off the async worker threads.

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};

use crate::config::Config;
use crate::http::FieldError;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

/// Argon2id with the configured cost.
#[derive(Debug, Clone)]
pub struct Passwords {
    params: Params,
}

impl Passwords {
    pub fn from_config(config: &Config) -> Self {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .unwrap_or_default();
        Self { params }
    }

    /// Check the length rule (8 to 128 characters, nothing else).
    pub fn check(password: &str) -> Result<(), FieldError> {
        let length = password.chars().count();
        if length < MIN_LENGTH {
            return Err(FieldError::new(
                "password",
                format!("must be at least {MIN_LENGTH} characters"),
            ));
        }
        if length > MAX_LENGTH {
            return Err(FieldError::new(
                "password",
                format!("must be at most {MAX_LENGTH} characters"),
            ));
        }
        Ok(())
    }

    /// The Argon2id PHC string of a password, computed on the blocking pool.
    pub async fn hash(&self, password: String) -> Result<String, String> {
        let params = self.params.clone();
        tokio::task::spawn_blocking(move || {
            let salt =
                SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// Accept an imported hash: an Argon2 PHC string or bcrypt (`$2a$`, `$2b$`, `$2y$`).
pub fn imported_hash(hash: &str) -> Result<String, FieldError> {
    let invalid = || {
        FieldError::new(
            "password_hash",
            "must be an Argon2 PHC string or a bcrypt hash ($2a$, $2b$, $2y$)",
        )
    };
    if let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))
    {
        // cost (two digits), '$', then 53 characters of salt and hash in bcrypt's base64
        let ok = rest.len() == 56
            && rest[..2].bytes().all(|b| b.is_ascii_digit())
            && &rest[2..3] == "$"
            && rest[3..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
        return if ok {
            Ok(hash.to_owned())
        } else {
            Err(invalid())
        };
    }
    match PasswordHash::new(hash) {
        Ok(parsed) if parsed.algorithm.as_str().starts_with("argon2") && parsed.hash.is_some() => {
            Ok(hash.to_owned())
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_length_rule_names_the_limit() {
        assert!(Passwords::check("short")
            .unwrap_err()
            .message
            .contains("at least 8"));
        assert!(Passwords::check(&"x".repeat(129))
            .unwrap_err()
            .message
            .contains("at most 128"));
        assert!(Passwords::check("eight ch").is_ok());
    }

    #[test]
    fn imported_hashes_are_recognised() {
        assert!(
            imported_hash("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW").is_ok()
        );
        assert!(imported_hash("$2y$10$abc").is_err());
        assert!(imported_hash("plaintext").is_err());
        assert!(imported_hash(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZaS5Yq3J3kJx0cQ6Qz2kq3XbYd0lJwR2y1o3pY8m2cQ"
        )
        .is_ok());
    }

    #[tokio::test]
    async fn new_hashes_are_argon2id_with_the_configured_cost() {
        let passwords = Passwords::from_config(&Config::default());
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let parsed = PasswordHash::new(&hash).unwrap();
        use argon2::PasswordVerifier;
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
    }
}
