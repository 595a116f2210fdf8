//! PATCH bodies distinguish "field absent" (leave it) from "field null" (clear it).

use serde::{Deserialize, Deserializer};

/// With `#[serde(default, deserialize_with = "double_option")]`: absent → `None`, null → `Some(None)`,
/// a value → `Some(Some(v))`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
