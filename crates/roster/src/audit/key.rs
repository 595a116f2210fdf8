//! The secret key a database is sealed under, and the sealed heads of its chains.
//!
//! The database keeps a fingerprint of the key (an HMAC of a fixed label under the chain key, never the key): a process
//! with another key, or with none, refuses to open it instead of sealing entries nobody could verify ([`check_key`]).
//! Each chain's head — its newest entry and seal, and the last entry that may be sealed without the key — is sealed
//! under the chain key too ([`Head::mac`]), so a head moved back over a cut tail, a chain resealed as unkeyed, or a
//! head removed with its entries shows without a checkpoint kept elsewhere.
//!
//! A database that never had a key has no fingerprint and unsealed heads. The first keyed process seals it: at the
//! upgrade that brings the seals (migration 21), on a first start with nothing written yet, or when the operator
//! adopts a key with `roster audit adopt-key`. Afterwards an unsealed head is a forgery.

use sha2::Sha256;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{hex, repo, MacKind};
use crate::principal::Sysadmin;
use crate::store::{ChainKey, FromRow, Row, Store, StoreError, Tx};

/// A chain's head as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub tenant_id: Uuid,
    /// The newest entry (0: none yet), its seal and how that was made.
    pub seq: i64,
    pub hash: Vec<u8>,
    pub mac_kind: MacKind,
    /// The last entry that may be sealed without the key (0: none may be).
    pub unkeyed_through: i64,
    /// The head's own seal under the chain key; `None` while the database has never had a key.
    pub head_mac: Option<Vec<u8>>,
}

/// The columns of a head, in [`Head`]'s row order.
pub(super) const HEAD_COLUMNS: &str = "tenant_id, seq, hash, mac_kind, unkeyed_through, head_mac";

impl FromRow for Head {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        Ok(Head {
            tenant_id: row.get(0)?,
            seq: row.get(1)?,
            hash: row.get(2)?,
            mac_kind: MacKind::from_stored(row.get(3)?)?,
            unkeyed_through: row.get(4)?,
            head_mac: row.get(5)?,
        })
    }
}

impl Head {
    /// An empty chain's head: no entry yet, none of them unkeyed when a key seals it.
    pub(super) fn start(tenant_id: Uuid, key: Option<&ChainKey>) -> Head {
        let mut head = Head {
            tenant_id,
            seq: 0,
            hash: vec![0; 32],
            mac_kind: MacKind::Sha256,
            unkeyed_through: 0,
            head_mac: None,
        };
        head.head_mac = key.map(|key| head.mac(key));
        head
    }

    /// The seal of the head under the chain key.
    pub(crate) fn mac(&self, key: &ChainKey) -> Vec<u8> {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes any key length");
        mac.update(b"roster audit head v1\0");
        mac.update(self.tenant_id.as_bytes());
        mac.update(&self.seq.to_be_bytes());
        mac.update(&self.hash);
        mac.update(&self.mac_kind.stored().to_be_bytes());
        mac.update(&self.unkeyed_through.to_be_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Whether the head is one a process with `key` wrote. `keyed_database`: the database records a key, so an
    /// unsealed head cannot be an old one. `Ok(true)` when the head is sealed and its seal holds, `Ok(false)` when
    /// it is the unsealed head of a database that never had a key.
    pub(crate) fn check(&self, key: Option<&ChainKey>, keyed_database: bool) -> Result<bool, String> {
        match (&self.head_mac, key) {
            (Some(mac), Some(key)) if *mac == self.mac(key) => Ok(true),
            (Some(_), Some(_)) => Err(format!(
                "the chain's head (entry {}) does not match its seal: moved or rewritten without the server's key",
                self.seq
            )),
            (Some(_), None) => {
                Err("the chain's head is sealed with the server's secret key, which this process does not have".into())
            }
            (None, _) if keyed_database => Err(format!(
                "the chain's head (entry {}) is not sealed, yet the database is sealed under a secret key: rewritten \
                 without the key",
                self.seq
            )),
            (None, _) => Ok(false),
        }
    }

    /// The head after `entries` were appended: the newest of them, and — when they were sealed without a key — an
    /// unkeyed prefix that now reaches them. Sealed when there is a key.
    pub(super) fn after(&self, last_seq: i64, last_hash: Vec<u8>, kind: MacKind, key: Option<&ChainKey>) -> Head {
        let mut head = Head {
            tenant_id: self.tenant_id,
            seq: last_seq,
            hash: last_hash,
            mac_kind: kind,
            unkeyed_through: if kind == MacKind::Sha256 { last_seq } else { self.unkeyed_through },
            head_mac: None,
        };
        head.head_mac = key.map(|key| head.mac(key));
        head
    }
}

/// The fingerprint of a chain key: an HMAC of a fixed label, which names the key without revealing it.
pub fn fingerprint(key: &ChainKey) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key.bytes()).expect("HMAC takes any key length");
    mac.update(b"roster secret key fingerprint v1");
    mac.finalize().into_bytes().to_vec()
}

/// A fingerprint as people read it: its first 8 bytes in hex.
pub fn show(fingerprint: &[u8]) -> String {
    hex(&fingerprint[..fingerprint.len().min(8)])
}

/// Why a process may not open a database with the key it has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "this database is sealed under another secret key (fingerprint {database}) than this process's \
         (fingerprint {process}): start roster with the key the database was made with (ROSTER_SECRET_KEY, or its \
         roster.key); sealing entries under this one would break its audit chains for good"
    )]
    Mismatch { database: String, process: String },
    #[error(
        "this database is sealed under a secret key (fingerprint {database}) and this process has none: set \
         ROSTER_SECRET_KEY to that key (or keep its roster.key beside the SQLite database)"
    )]
    Missing { database: String },
    #[error(
        "this database records no secret key, yet its audit log holds {entries} entries: if they were written without \
         a key, run `roster audit adopt-key` once with this key (its chains must verify under it), or run without a \
         key; if it had a key, its record was removed: run `roster audit verify` with that key"
    )]
    NotAdopted { entries: i64 },
}

/// What [`check_key`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// The database is sealed under this process's key.
    Matches,
    /// Neither the database nor the process has a key.
    Keyless,
    /// The database had never been written: it is now sealed under this process's key.
    Recorded,
}

/// Check the store's key against the database's fingerprint, before anything is written (every writing command and
/// `serve` call it once the schema is current). A database that records no key and holds no audit entry takes this
/// process's key.
pub async fn check_key(store: &Store, now: OffsetDateTime) -> Result<KeyCheck, KeyErrorOrStore> {
    let recorded = repo::fingerprint(store).await?;
    let key = store.chain_key();
    match (recorded, key) {
        (Some(recorded), Some(key)) if recorded == fingerprint(key) => {
            key.bind();
            Ok(KeyCheck::Matches)
        }
        (Some(recorded), Some(key)) => {
            Err(KeyError::Mismatch { database: show(&recorded), process: show(&fingerprint(key)) }.into())
        }
        (Some(recorded), None) => Err(KeyError::Missing { database: show(&recorded) }.into()),
        (None, None) => Ok(KeyCheck::Keyless),
        (None, Some(_)) => {
            let mut tx = store.begin().await?;
            let entries = repo::entries_and_anchors(&mut tx).await?;
            if entries > 0 {
                return Err(KeyError::NotAdopted { entries }.into());
            }
            seal_database(&mut tx, now).await?;
            tx.commit().await?;
            if let Some(key) = store.chain_key() {
                key.bind();
            }
            Ok(KeyCheck::Recorded)
        }
    }
}

/// [`check_key`]'s failure: the key, or the database.
#[derive(Debug, thiserror::Error)]
pub enum KeyErrorOrStore {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the database's recorded key compares with the store's (for checking a copy: a backup, a restore, a move).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyMatch {
    /// The fingerprint the database records (hex), if it records one.
    pub database: Option<String>,
    /// The fingerprint of the store's key (hex), if it has one.
    pub process: Option<String>,
}

impl KeyMatch {
    /// Why the store cannot verify the database's chains, if it cannot: which key the copy needs.
    pub fn problem(&self) -> Option<String> {
        match (&self.database, &self.process) {
            (Some(database), Some(process)) if database != process => Some(format!(
                "the copy is sealed under the secret key with fingerprint {database}; this process's key has \
                 fingerprint {process}: use the key the copy was made with"
            )),
            (Some(database), None) => Some(format!(
                "the copy is sealed under the secret key with fingerprint {database}, and this process has no key: \
                 set ROSTER_SECRET_KEY to it"
            )),
            _ => None,
        }
    }
}

/// The database's recorded key against the store's.
pub async fn key_match(store: &Store) -> Result<KeyMatch, StoreError> {
    Ok(KeyMatch {
        database: repo::fingerprint(store).await?.map(|f| show(&f)),
        process: store.chain_key().map(|k| show(&fingerprint(k))),
    })
}

/// Forget the key an empty database records (one a keyed process migrated), so that a copy moved into it brings
/// its own (the operator's: `roster migrate-data`).
pub async fn forget_key_of_empty(store: &Store, _operator: &Sysadmin) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    if repo::entries_and_anchors(&mut tx).await? > 0 {
        return Err(StoreError::Refused("the database holds audit entries: its key stays".into()));
    }
    repo::delete_fingerprint(&mut tx).await?;
    tx.commit().await
}

/// What `roster audit adopt-key` sealed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Adopted {
    /// The key's fingerprint (its first bytes, hex).
    pub fingerprint: String,
    /// Chains whose heads were sealed, and the unkeyed entries they hold, now trusted as they are.
    pub chains: i64,
    pub unkeyed_entries: i64,
}

/// Seal a database that was written without a key under the store's key (the operator's decision: its chains are
/// trusted as they are now). Refused when it already records a key, or the store has none.
pub async fn adopt(store: &Store, operator: &Sysadmin, now: OffsetDateTime) -> Result<Adopted, KeyErrorOrStore> {
    let Some(key) = store.chain_key() else {
        return Err(StoreError::Refused("adopting a key needs one: set ROSTER_SECRET_KEY".into()).into());
    };
    // nothing is sealed that this key cannot verify: entries a key wrote are not adopted by another
    let mut after = None;
    loop {
        let page = crate::tenants::list(store, operator, after, 500).await?;
        for tenant in page.iter().take(500) {
            let report = super::verify(store, &operator.scope(tenant.as_ref()), None).await?;
            if !report.ok {
                return Err(StoreError::Refused(format!(
                    "the audit chain of tenant {} does not verify under this key (entry {}: {}): nothing adopted",
                    tenant.slug,
                    report.first_bad_seq.unwrap_or_default(),
                    report.reason.unwrap_or_default()
                ))
                .into());
            }
            after = Some(tenant.id);
        }
        if page.len() <= 500 {
            break;
        }
    }
    let mut tx = store.begin().await?;
    if let Some(recorded) = repo::fingerprint(&mut tx).await? {
        return Err(if recorded == fingerprint(key) {
            StoreError::Refused(format!("this database is already sealed under this key ({})", show(&recorded))).into()
        } else {
            KeyError::Mismatch { database: show(&recorded), process: show(&fingerprint(key)) }.into()
        });
    }
    let unkeyed_entries = repo::entries_and_anchors(&mut tx).await?;
    let chains = seal_database(&mut tx, now).await?;
    tx.commit().await?;
    Ok(Adopted { fingerprint: show(&fingerprint(key)), chains, unkeyed_entries })
}

/// Record the transaction's key and seal every head as it is; the number of heads. Nothing without a key.
async fn seal_database(tx: &mut Tx, now: OffsetDateTime) -> Result<i64, StoreError> {
    let Some(key) = tx.chain_key().cloned() else { return Ok(0) };
    repo::insert_fingerprint(tx, &fingerprint(&key), now).await?;
    let heads = repo::all_heads(tx).await?;
    for head in &heads {
        repo::seal_head(tx, head.tenant_id, &head.mac(&key)).await?;
    }
    Ok(heads.len() as i64)
}

/// Migration 21's step: a keyed process upgrading a database seals what it finds (the same trust the earlier
/// allowance for unkeyed entries gave); a process without a key leaves it for the first keyed one.
pub(crate) fn seal_at_upgrade(
    tx: &mut Tx,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send + '_>> {
    Box::pin(async move { seal_database(tx, crate::clock::truncate(OffsetDateTime::now_utc())).await.map(drop) })
}
