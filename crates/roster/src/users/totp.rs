//! Two-factor sign-in with time-based one-time codes (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step), secrets
//! encrypted at rest with the server's secret key, each code usable once, and single-use recovery codes.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::secrets::SecretKey;

pub const STEP_SECONDS: u64 = 30;
pub const RECOVERY_CODES: usize = 10;

/// Encrypt a TOTP secret for storage: a random nonce followed by the sealed secret.
pub fn seal(key: &SecretKey, secret: &[u8]) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.bytes().into());
    let nonce: [u8; 24] = rand::random();
    let mut out = nonce.to_vec();
    out.extend(cipher.encrypt(XNonce::from_slice(&nonce), secret).expect("encrypting in memory cannot fail"));
    out
}

/// Decrypt a stored TOTP secret; `None` if it was sealed with another key or altered.
pub fn open(key: &SecretKey, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < 24 {
        return None;
    }
    let cipher = XChaCha20Poly1305::new(key.bytes().into());
    cipher.decrypt(XNonce::from_slice(&sealed[..24]), &sealed[24..]).ok()
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECONDS, secret.to_vec(), Some(issuer.to_owned()), account.to_owned()).ok()
}

/// A new secret: 160 random bits, its base32 form and the `otpauth://` URI for authenticator apps.
pub fn generate(issuer: &str, account: &str) -> (Vec<u8>, String, String) {
    let secret: [u8; 20] = rand::random();
    let encoded = Secret::Raw(secret.to_vec()).to_encoded().to_string();
    // Authenticator apps reject ':' in the account part; the issuer prefix carries it.
    let uri = totp(&secret, issuer, &account.replace(':', "-")).map(|t| t.get_url()).unwrap_or_default();
    (secret.to_vec(), encoded, uri)
}

/// The time step a code belongs to, if it matches within ±1 step of `unix_seconds`.
pub fn matching_step(secret: &[u8], code: &str, unix_seconds: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "roster", "check")?;
    let step = unix_seconds / STEP_SECONDS;
    [step.saturating_sub(1), step, step + 1].into_iter().find(|s| {
        let expected = t.generate(s * STEP_SECONDS);
        // constant-time comparison of the six digits
        expected.bytes().zip(code.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    })
}

/// Ten recovery codes, `xxxxx-xxxxx` in lower-case base32 (50 random bits each).
pub fn recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw = Secret::Raw(rand::random::<[u8; 10]>().to_vec()).to_encoded().to_string().to_lowercase();
            format!("{}-{}", &raw[..5], &raw[5..10])
        })
        .collect()
}

/// A recovery code as stored: SHA-256 of its normalised form.
pub fn recovery_hash(code: &str) -> Vec<u8> {
    crate::tokens::hash(&code.trim().to_lowercase().replace(' ', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key() {
        let key = SecretKey::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        let other = SecretKey::parse("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
        let sealed = seal(&key, b"0123456789abcdefghij");
        assert_ne!(&sealed[24..], b"0123456789abcdefghij");
        assert_eq!(open(&key, &sealed).unwrap(), b"0123456789abcdefghij");
        assert!(open(&other, &sealed).is_none());
    }

    #[test]
    fn the_rfc_6238_test_vector_matches() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); the 6-digit code is its last six.
        let secret = b"12345678901234567890";
        assert_eq!(matching_step(secret, "287082", 59), Some(1));
        assert_eq!(matching_step(secret, "287082", 59 + 30), Some(1), "one step late is accepted");
        assert_eq!(matching_step(secret, "287082", 59 + 60), None, "two steps late is not");
        assert_eq!(matching_step(secret, "28708", 59), None);
    }
}
