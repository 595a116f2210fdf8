//! The server's secret key (it encrypts TOTP secrets at rest): from configuration, or generated once into a `0600`
//! key file beside the SQLite database.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::config::Config;

/// 32 secret bytes. `Debug` never shows them.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A keyed hash (HMAC-SHA256, hex) of `text` for `purpose`: the same text gives the same hash under one key, so
    /// entries can be matched up, but it cannot be reversed or tried against guesses without the key.
    pub fn keyed_hash(&self, purpose: &str, text: &str) -> String {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(text.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A key of its own for `purpose`, derived from this one (HMAC-SHA256 of the purpose): a key that leaks from one
    /// use says nothing of the others or of this one.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"roster key derivation\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// A key given as base64 (at least 32 bytes once decoded; longer keys are hashed down to 32).
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| "secret_key: must be base64".to_owned())?;
        if bytes.len() < 32 {
            return Err("secret_key: must decode to at least 32 bytes (e.g. `openssl rand -base64 32`)".into());
        }
        use sha2::Digest;
        let key = if bytes.len() == 32 { bytes } else { sha2::Sha256::digest(&bytes).to_vec() };
        Ok(SecretKey(key.try_into().expect("32 bytes")))
    }
}

/// Where the generated key lives: `roster.key` beside the SQLite database.
pub fn key_file(config: &Config) -> Option<PathBuf> {
    let db = config.sqlite_path()?;
    let dir = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Some(dir.join("roster.key"))
}

/// The configured key, else the key file's if there is one; never a new key (what a restore checks a backup with
/// must be the key it was made under).
pub fn load_existing(config: &Config) -> Result<Option<SecretKey>, String> {
    if let Some(text) = &config.secret_key {
        return SecretKey::parse(text).map(Some);
    }
    let Some(path) = key_file(config) else {
        return Ok(None);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => SecretKey::parse(&text).map(Some).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The configured key, else the key file's, else a new key written to the key file. PostgreSQL deployments have no
/// database directory to keep a file in, so they must configure `ROSTER_SECRET_KEY`; `None` then.
pub fn load_or_create(config: &Config) -> Result<Option<SecretKey>, String> {
    if let Some(key) = load_existing(config)? {
        return Ok(Some(key));
    }
    let Some(path) = key_file(config) else {
        return Ok(None);
    };
    let key = SecretKey(rand::random());
    write_private(&path, &STANDARD.encode(key.0)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Some(key))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_config(dir: &Path) -> Config {
        Config { database_url: format!("sqlite://{}", dir.join("roster.db").display()), ..Config::default() }
    }

    #[test]
    fn a_key_is_generated_once_into_a_private_file_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = sqlite_config(dir.path());
        let first = load_or_create(&config).unwrap().unwrap();
        let path = dir.path().join("roster.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let second = load_or_create(&config).unwrap().unwrap();
        assert_eq!(first.bytes(), second.bytes());
        assert_eq!(format!("{first:?}"), "SecretKey(…)");
    }

    #[test]
    fn a_configured_key_wins_and_a_short_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = sqlite_config(dir.path());
        config.secret_key = Some(STANDARD.encode([7u8; 32]));
        assert_eq!(load_or_create(&config).unwrap().unwrap().bytes(), &[7u8; 32]);
        assert!(!dir.path().join("roster.key").exists());
        config.secret_key = Some(STANDARD.encode([7u8; 8]));
        assert!(load_or_create(&config).unwrap_err().contains("32 bytes"));
    }
}
