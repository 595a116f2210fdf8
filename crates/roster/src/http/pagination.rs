//! Keyset pagination: `?limit=&cursor=` in, `{"items": [...], "next_cursor": …}` out.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::FieldError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// A page of results; `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The effective page size of `?limit=`.
pub fn limit(requested: Option<i64>) -> Result<i64, FieldError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(FieldError::new("limit", format!("must be between 1 and {MAX_LIMIT}"))),
    }
}

/// An opaque cursor over a UUID key.
pub fn encode_cursor(after: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(after.as_bytes())
}

pub fn decode_cursor(cursor: Option<&str>) -> Result<Option<Uuid>, FieldError> {
    cursor
        .map(|c| {
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|bytes| Uuid::from_slice(&bytes).ok())
                .ok_or_else(|| FieldError::new("cursor", "is not a cursor returned by this list"))
        })
        .transpose()
}

/// Build a page from `limit + 1` fetched rows: the extra row only says there is more.
pub fn page<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Uuid) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| encode_cursor(key(r))) } else { None };
    Page { items: rows, next_cursor }
}

/// The tie-breaker of a list ordered by time: a record's own key, written into its cursor after the time.
pub trait TieBreaker: Sized {
    /// The length of [`TieBreaker::to_bytes`].
    const BYTES: usize;
    fn to_bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

impl TieBreaker for Uuid {
    const BYTES: usize = 16;
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Uuid::from_slice(bytes).ok()
    }
}

impl TieBreaker for i64 {
    const BYTES: usize = 8;
    fn to_bytes(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(i64::from_be_bytes(bytes.try_into().ok()?))
    }
}

/// An opaque cursor over a key of its own (a sequence number).
pub fn encode_key_cursor<K: TieBreaker>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(key.to_bytes())
}

pub fn decode_key_cursor<K: TieBreaker>(cursor: Option<&str>) -> Result<Option<K>, FieldError> {
    cursor
        .map(|c| {
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|bytes| K::from_bytes(&bytes))
                .ok_or_else(|| FieldError::new("cursor", "is not a cursor returned by this list"))
        })
        .transpose()
}

/// An opaque cursor over a `(time, tie-breaker)` key: microseconds, then the tie-breaker.
pub fn encode_timed_cursor<K: TieBreaker>(at: OffsetDateTime, key: &K) -> String {
    let mut bytes = crate::store::to_micros(at).to_be_bytes().to_vec();
    bytes.extend(key.to_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode_timed_cursor<K: TieBreaker>(cursor: Option<&str>) -> Result<Option<(OffsetDateTime, K)>, FieldError> {
    cursor
        .map(|c| {
            let bytes = URL_SAFE_NO_PAD.decode(c).unwrap_or_default();
            let micros = bytes.get(..8).and_then(|b| b.try_into().ok()).map(i64::from_be_bytes);
            micros
                .and_then(|m| crate::store::from_micros(m).ok())
                .zip(bytes.get(8..).and_then(K::from_bytes))
                .ok_or_else(|| FieldError::new("cursor", "is not a cursor returned by this list"))
        })
        .transpose()
}

/// An opaque cursor over a `(text, tie-breaker)` key, for a list in the order of a text (such as a name): the
/// tie-breaker, then the text.
pub fn encode_text_cursor<K: TieBreaker>(text: &str, key: &K) -> String {
    let mut bytes = key.to_bytes();
    bytes.extend_from_slice(text.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode_text_cursor<K: TieBreaker>(cursor: Option<&str>) -> Result<Option<(String, K)>, FieldError> {
    cursor
        .map(|c| {
            let bytes = URL_SAFE_NO_PAD.decode(c).unwrap_or_default();
            let key = bytes.get(..K::BYTES).and_then(K::from_bytes);
            let text = bytes.get(K::BYTES..).and_then(|b| String::from_utf8(b.to_vec()).ok());
            text.zip(key).ok_or_else(|| FieldError::new("cursor", "is not a cursor returned by this list"))
        })
        .transpose()
}

/// Build a page of a time-ordered list from `limit + 1` fetched rows.
pub fn timed_page<T, K: TieBreaker>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> Option<(OffsetDateTime, K)>,
) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().and_then(key).map(|(at, k)| encode_timed_cursor(at, &k)) } else { None };
    Page { items: rows, next_cursor }
}

/// Common list parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_timed_cursor_reads_back_and_a_malformed_one_is_refused() {
        let at = datetime!(2026-11-22 12:00:00.000123 UTC);
        let id = Uuid::now_v7();
        let cursor = encode_timed_cursor(at, &id);
        assert_eq!(decode_timed_cursor::<Uuid>(Some(&cursor)).unwrap(), Some((at, id)));
        let cursor = encode_timed_cursor(at, &42i64);
        assert_eq!(decode_timed_cursor::<i64>(Some(&cursor)).unwrap(), Some((at, 42)));
        assert!(decode_timed_cursor::<Uuid>(Some(&cursor)).is_err(), "an i64 key is not a UUID");
        assert!(decode_timed_cursor::<i64>(Some("not base64!")).is_err());
        assert!(decode_timed_cursor::<i64>(Some(&URL_SAFE_NO_PAD.encode([0u8; 20]))).is_err(), "a wrong length");
        assert_eq!(decode_timed_cursor::<i64>(None).unwrap(), None);
    }

    #[test]
    fn a_text_cursor_reads_back_and_a_malformed_one_is_refused() {
        let id = Uuid::now_v7();
        let cursor = encode_text_cursor("joão da silva", &id);
        assert_eq!(decode_text_cursor::<Uuid>(Some(&cursor)).unwrap(), Some(("joão da silva".to_owned(), id)));
        assert_eq!(decode_text_cursor::<Uuid>(Some(&encode_text_cursor("", &id))).unwrap(), Some((String::new(), id)));
        assert!(decode_text_cursor::<Uuid>(Some("AAAA")).is_err(), "too short");
        assert!(decode_text_cursor::<Uuid>(Some(&URL_SAFE_NO_PAD.encode([[0u8; 16].as_slice(), &[0xff]].concat())))
            .is_err());
        assert!(decode_text_cursor::<Uuid>(Some("not base64!")).is_err());
    }
}
