//! Password hashing: Argon2id for every new hash, off the async worker threads.

use std::sync::{Mutex, OnceLock, PoisonError};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::config::Config;
use crate::http::FieldError;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

/// Argon2id with the configured cost.
#[derive(Debug, Clone)]
pub struct Passwords {
    params: Params,
    min_length: usize,
}

/// Threads that hash passwords, one per core, at a lower priority than the threads that serve requests (nice
/// [`HASHING_NICE`]): a burst of sign-ins queues here, and while it lasts the scheduler still gives every other request
/// the CPU first, so lookups keep their pace. When nothing else runs, hashing has every core. Each Argon2id run holds
/// `m` KiB, so the threads bound that memory too.
struct Hashers {
    jobs: crossbeam_channel::Sender<Box<dyn FnOnce() + Send>>,
    threads: usize,
}

/// How much lower hashing runs than serving: the lowest nice, whose thread the scheduler weighs at 15 against a nice-0
/// thread's 1,024. In one pair of runs, `GET /v1/me` during a sign-in flood served 19,891 req/s at nice 10 (29,936
/// alone) and 26,311 at nice 19 (33,943 alone), with sign-ins during that load at 49/s and 35/s (docs/decisions.md).
const HASHING_NICE: i32 = 19;

fn hashers() -> &'static Hashers {
    static HASHERS: OnceLock<Hashers> = OnceLock::new();
    HASHERS.get_or_init(|| {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (jobs, queue) = crossbeam_channel::unbounded::<Box<dyn FnOnce() + Send>>();
        let mut started = 0;
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("roster-hashing-{i}")).spawn(move || {
                lower_priority();
                while let Ok(job) = queue.recv() {
                    // a panic drops the job's reply (its caller gets an error); the thread goes on
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            });
            if spawned.is_ok() {
                started += 1;
            }
        }
        Hashers { jobs, threads: started }
    })
}

/// Lower the calling thread's scheduling priority (Linux keeps a nice value per thread). Best effort: a system that
/// refuses leaves it as it was.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions; setpriority only changes the scheduling of the thread it names (this one).
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, HASHING_NICE);
    }
}

/// Argon2's working memory (`m` KiB per run), kept between runs: at most one buffer per hashing thread exists, so the
/// memory hashing holds is fixed at threads × `m`. Left to the allocator, each freed buffer of a run stayed resident in
/// whichever allocator arena the blocking thread used, and the server's heap grew by `m` for every thread that had
/// ever hashed (measured: 10 MiB idle, 88 MiB after four concurrent sign-ins; 180–290 MiB in the soak). The one hash
/// made outside those threads (the dummy hash, once per process) may add one more buffer.
fn with_memory<T>(blocks: usize, keep: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    static SPARE: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
    let spare = || SPARE.lock().unwrap_or_else(PoisonError::into_inner);
    let mut memory = spare().pop().unwrap_or_default();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let result = work(&mut memory[..blocks]);
    // a costlier imported hash does not keep its larger buffer
    if memory.len() > keep {
        memory.truncate(keep);
        memory.shrink_to_fit();
    }
    spare().push(memory);
    result
}

/// The Argon2id PHC string of `password` with a fresh salt.
fn argon2id(params: &Params, password: &[u8]) -> Result<String, argon2::password_hash::Error> {
    let raw_salt: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&raw_salt)?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let blocks = params.block_count();
    let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = Output::init_with(length, |out| {
        with_memory(blocks, blocks, |memory| hasher.hash_password_into_with_memory(password, &raw_salt, out, memory))
            .map_err(Into::into)
    })?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches a parsed Argon2 hash (any variant and version), computed with the kept memory.
/// `Output` compares in constant time.
fn argon2_matches(parsed: &PasswordHash, password: &[u8], keep: usize) -> bool {
    let check = || -> Result<bool, argon2::password_hash::Error> {
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed.version.map(Version::try_from).transpose()?.unwrap_or_default();
        let params = Params::try_from(parsed)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Ok(false);
        };
        let mut salt_bytes = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_bytes)?;
        let hasher = Argon2::new(algorithm, version, params.clone());
        let output = Output::init_with(expected.len(), |out| {
            with_memory(params.block_count(), keep, |memory| {
                hasher.hash_password_into_with_memory(password, salt, out, memory)
            })
            .map_err(Into::into)
        })?;
        Ok(output == expected)
    };
    check().unwrap_or(false)
}

/// Run password work on the hashing threads.
async fn hashing<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let hashers = hashers();
    if hashers.threads == 0 {
        return Err("no password hashing thread could be started".into());
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Box::new(move || {
        let _ = reply.send(work());
    });
    hashers.jobs.send(job).map_err(|_| "the password hashing threads have stopped".to_owned())?;
    answer.await.map_err(|_| "a password hashing thread stopped".to_owned())
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The stored hash is bcrypt or weaker than the configured Argon2id: store a new one.
    pub needs_rehash: bool,
}

impl Passwords {
    pub fn from_config(config: &Config) -> Self {
        let params = Params::new(config.argon2_memory_kib, config.argon2_iterations, config.argon2_parallelism, None)
            .unwrap_or_default();
        Self { params, min_length: config.password_min_length.clamp(MIN_LENGTH, MAX_LENGTH) }
    }

    /// Check the length rule (the configured minimum, 8 by default, to 128 characters; no composition rules).
    pub fn check(&self, password: &str) -> Result<(), FieldError> {
        let length = password.chars().count();
        if length < self.min_length {
            return Err(FieldError::new("password", format!("must be at least {} characters", self.min_length)));
        }
        if length > MAX_LENGTH {
            return Err(FieldError::new("password", format!("must be at most {MAX_LENGTH} characters")));
        }
        Ok(())
    }

    /// The Argon2id PHC string of a password, computed on the blocking pool.
    pub async fn hash(&self, password: String) -> Result<String, String> {
        let params = self.params.clone();
        hashing(move || argon2id(&params, password.as_bytes()).map_err(|e| e.to_string())).await?
    }

    /// Check a password against a stored hash (Argon2 or bcrypt). Without a hash — the account does not exist or has
    /// no password — a dummy hash of the same cost is checked, so the answer takes as long either way.
    pub async fn verify(&self, stored: Option<String>, password: String) -> Verification {
        let params = self.params.clone();
        let dummy = self.dummy_hash();
        hashing(move || {
            let (hash, real) = match stored {
                Some(hash) if beyond_bounds(&hash).is_some() => {
                    // stored before imports were bounded: checking it would cost more than any sign-in may
                    tracing::warn!("a stored password hash is beyond the cost bounds; the sign-in is refused");
                    (dummy, false)
                }
                Some(hash) => (hash, true),
                None => (dummy, false),
            };
            if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
                let matches = bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false);
                return Verification { matches: matches && real, needs_rehash: true };
            }
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return Verification { matches: false, needs_rehash: false };
            };
            let matches = argon2_matches(&parsed, password.as_bytes(), params.block_count()) && real;
            let current = Params::try_from(&parsed).ok().is_some_and(|p| {
                parsed.algorithm.as_str() == "argon2id"
                    && p.m_cost() >= params.m_cost()
                    && p.t_cost() >= params.t_cost()
                    && p.p_cost() >= params.p_cost()
            });
            Verification { matches, needs_rehash: matches && !current }
        })
        .await
        .unwrap_or(Verification { matches: false, needs_rehash: false })
    }

    /// A hash of a random password at the configured cost, made once per process.
    fn dummy_hash(&self) -> String {
        static DUMMY: OnceLock<String> = OnceLock::new();
        DUMMY
            .get_or_init(|| {
                let password: [u8; 16] = rand::random();
                argon2id(&self.params, &password).expect("hashing random bytes cannot fail")
            })
            .clone()
    }
}

pub use crate::config::{BCRYPT_COSTS, MAX_ARGON2_ITERATIONS, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PARALLELISM};

/// Why a hash is outside the bounds, if it is.
fn beyond_bounds(hash: &str) -> Option<String> {
    if let Some(rest) = ["$2a$", "$2b$", "$2y$"].iter().find_map(|p| hash.strip_prefix(p)) {
        let cost: u32 = rest.get(..2)?.parse().ok()?;
        return (!BCRYPT_COSTS.contains(&cost))
            .then(|| format!("bcrypt cost must be {} to {}, not {cost}", BCRYPT_COSTS.start(), BCRYPT_COSTS.end()));
    }
    let parsed = PasswordHash::new(hash).ok()?;
    let value = |name: &str| parsed.params.get_decimal(name);
    let limits = [
        ("m", "Argon2 memory (m, KiB)", MAX_ARGON2_MEMORY_KIB),
        ("t", "Argon2 iterations (t)", MAX_ARGON2_ITERATIONS),
        ("p", "Argon2 parallelism (p)", MAX_ARGON2_PARALLELISM),
    ];
    limits.into_iter().find_map(|(name, what, max)| match value(name) {
        Some(v) if v > max => Some(format!("{what} must be at most {max}, not {v}")),
        Some(_) => None,
        None => Some(format!("{what} is missing")),
    })
}

/// Accept an imported hash: an Argon2 PHC string or bcrypt (`$2a$`, `$2b$`, `$2y$`), within the cost bounds above.
pub fn imported_hash(hash: &str) -> Result<String, FieldError> {
    let invalid =
        || FieldError::new("password_hash", "must be an Argon2 PHC string or a bcrypt hash ($2a$, $2b$, $2y$)");
    if let Some(rest) = ["$2a$", "$2b$", "$2y$"].iter().find_map(|p| hash.strip_prefix(p)) {
        // cost (two digits), '$', then 53 characters of salt and hash in bcrypt's base64
        let ok = rest.len() == 56
            && rest[..2].bytes().all(|b| b.is_ascii_digit())
            && &rest[2..3] == "$"
            && rest[3..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
        if !ok {
            return Err(invalid());
        }
    } else {
        match PasswordHash::new(hash) {
            Ok(parsed)
                if parsed.algorithm.as_str().starts_with("argon2")
                    && parsed.hash.is_some()
                    && Params::try_from(&parsed).is_ok() => {}
            _ => return Err(invalid()),
        }
    }
    match beyond_bounds(hash) {
        Some(why) => Err(FieldError::new("password_hash", why)),
        None => Ok(hash.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn passwords_are_hashed_on_their_own_threads_below_the_serving_priority() {
        let on = hashing(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(on.as_deref().is_some_and(|name| name.starts_with("roster-hashing-")), "{on:?}");
        // the nice value of each hashing thread, from /proc (field 19 of stat, after the command's parentheses)
        let mut nice = Vec::new();
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if comm.trim().starts_with("roster-hashing-") {
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap();
                let after = &stat[stat.rfind(')').unwrap() + 2..];
                nice.push(after.split(' ').nth(16).unwrap().parse::<i32>().unwrap());
            }
        }
        // the calling thread is left as it was (a test run already niced keeps its own, higher, value)
        let ours = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let ours: i32 = ours[ours.rfind(')').unwrap() + 2..].split(' ').nth(16).unwrap().parse().unwrap();
        assert!(!nice.is_empty(), "hashing threads run");
        assert!(nice.iter().all(|&n| n == HASHING_NICE.max(ours) && n > ours.min(HASHING_NICE - 1)), "{nice:?}");
    }

    #[test]
    fn the_length_rule_names_the_limit() {
        let passwords = Passwords::from_config(&Config::default());
        assert!(passwords.check("short").unwrap_err().message.contains("at least 8"));
        assert!(passwords.check(&"x".repeat(129)).unwrap_err().message.contains("at most 128"));
        assert!(passwords.check("eight ch").is_ok());
        let stricter = Passwords::from_config(&Config { password_min_length: 12, ..Config::default() });
        assert!(stricter.check("eleven char").unwrap_err().message.contains("at least 12"));
        assert!(stricter.check("twelve chars").is_ok());
    }

    #[test]
    fn imported_hashes_are_recognised() {
        assert!(imported_hash("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW").is_ok());
        assert!(imported_hash("$2y$10$abc").is_err());
        assert!(imported_hash("plaintext").is_err());
        assert!(imported_hash(
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZaS5Yq3J3kJx0cQ6Qz2kq3XbYd0lJwR2y1o3pY8m2cQ"
        )
        .is_ok());
    }

    #[test]
    fn imported_hashes_beyond_the_cost_bounds_are_refused_naming_the_bound() {
        let tail = "$c29tZXNhbHRzb21lc2FsdA$ZaS5Yq3J3kJx0cQ6Qz2kq3XbYd0lJwR2y1o3pY8m2cQ";
        for (params, needle) in [
            ("m=4194304,t=100,p=1", "memory"),
            ("m=65537,t=2,p=1", "memory"),
            ("m=19456,t=11,p=1", "iterations"),
            ("m=19456,t=2,p=9", "parallelism"),
        ] {
            let error = imported_hash(&format!("$argon2id$v=19${params}{tail}")).unwrap_err();
            assert_eq!(error.field, "password_hash");
            assert!(error.message.contains(needle), "{params}: {}", error.message);
        }
        assert!(imported_hash(&format!("$argon2id$v=19$m=65536,t=10,p=8{tail}")).is_ok(), "the bounds themselves pass");
        let bcrypt_tail = "$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        assert!(imported_hash(&format!("$2b$14{bcrypt_tail}")).is_ok());
        for cost in ["15", "31", "03"] {
            let error = imported_hash(&format!("$2b${cost}{bcrypt_tail}")).unwrap_err();
            assert!(error.message.contains("bcrypt cost must be 4 to 14"), "{}", error.message);
        }
    }

    #[tokio::test]
    async fn a_stored_hash_beyond_the_bounds_is_not_computed() {
        let passwords = Passwords::from_config(&Config::default());
        // 4 GiB and 100 passes: verifying it would take minutes; refusing it takes one ordinary verification
        let costly =
            "$argon2id$v=19$m=4194304,t=100,p=1$c29tZXNhbHRzb21lc2FsdA$ZaS5Yq3J3kJx0cQ6Qz2kq3XbYd0lJwR2y1o3pY8m2cQ";
        let started = std::time::Instant::now();
        assert!(!passwords.verify(Some(costly.into()), "anything".into()).await.matches);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[tokio::test]
    async fn new_hashes_are_argon2id_with_the_configured_cost() {
        let passwords = Passwords::from_config(&Config::default());
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        let ok = passwords.verify(Some(hash.clone()), "correct horse".into()).await;
        assert_eq!(ok, Verification { matches: true, needs_rehash: false });
        let wrong = passwords.verify(Some(hash), "wrong horse".into()).await;
        assert!(!wrong.matches);
    }

    #[tokio::test]
    async fn bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let passwords = Passwords::from_config(&Config::default());
        let hash = bcrypt::hash("old system password", 4).unwrap();
        let ok = passwords.verify(Some(hash.clone()), "old system password".into()).await;
        assert_eq!(ok, Verification { matches: true, needs_rehash: true });
        assert!(!passwords.verify(Some(hash), "guess".into()).await.matches);
    }

    #[tokio::test]
    async fn weaker_argon2_hashes_ask_for_a_rehash_and_no_hash_never_matches() {
        let passwords = Passwords::from_config(&Config::default());
        let salt = SaltString::encode_b64(&[1u8; 16]).unwrap();
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 1, 1, None).unwrap())
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert_eq!(passwords.verify(Some(weak), "pw".into()).await, Verification { matches: true, needs_rehash: true });
        assert!(!passwords.verify(None, "anything".into()).await.matches);
    }

    /// The kept working memory holds the last run's state, and buffers of different sizes pass between costs: every
    /// hash still verifies, ours with the library's verifier and the library's (each variant and version) with ours.
    #[tokio::test]
    async fn hashes_agree_with_the_library_whatever_memory_is_reused() {
        let passwords = Passwords::from_config(&Config::default());
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        for round in 0..3 {
            for (algorithm, version, m) in [
                (Algorithm::Argon2id, Version::V0x13, 8192),
                (Algorithm::Argon2i, Version::V0x13, 19_456),
                (Algorithm::Argon2d, Version::V0x10, 4096),
                (Algorithm::Argon2id, Version::V0x13, 32_768),
            ] {
                let theirs = Argon2::new(algorithm, version, Params::new(m, 2, 1, None).unwrap())
                    .hash_password(format!("password {round}").as_bytes(), &salt)
                    .unwrap()
                    .to_string();
                let ok = passwords.verify(Some(theirs.clone()), format!("password {round}")).await;
                assert!(ok.matches, "{theirs}");
                assert!(!passwords.verify(Some(theirs), "another".into()).await.matches);
            }
            let ours = passwords.hash(format!("ours {round}")).await.unwrap();
            let parsed = PasswordHash::new(&ours).unwrap();
            assert!(Argon2::default().verify_password(format!("ours {round}").as_bytes(), &parsed).is_ok());
        }
    }
}
