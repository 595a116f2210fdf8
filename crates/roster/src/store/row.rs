//! One row-mapping definition per model, read by both drivers.

use super::value::Decode;
use super::StoreError;

/// A result row of either backend.
pub enum Row<'a, 'stmt> {
    Sqlite(&'a rusqlite::Row<'stmt>),
    Postgres(&'a tokio_postgres::Row),
}

impl Row<'_, '_> {
    /// The value of column `idx` (0-based, in SELECT order).
    pub fn get<T: Decode>(&self, idx: usize) -> Result<T, StoreError> {
        match self {
            Row::Sqlite(row) => {
                let value = row.get_ref(idx).map_err(StoreError::Sqlite)?;
                T::from_sqlite(value).map_err(|e| StoreError::Decode(format!("column {idx}: {e}")))
            }
            Row::Postgres(row) => T::from_postgres(row, idx).map_err(StoreError::Postgres),
        }
    }

    /// How many columns the row has.
    pub fn len(&self) -> usize {
        match self {
            Row::Sqlite(row) => row.as_ref().column_count(),
            Row::Postgres(row) => row.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A type built from one result row. Implemented once per model; both backends use the same impl.
pub trait FromRow: Sized + Send + 'static {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError>;
}

macro_rules! tuple_from_row {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Decode + Send + 'static),+> FromRow for ($($name,)+) {
            fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
                Ok(($(row.get::<$name>($idx)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A row of any shape: every column as the backend gives it (see `Decode for Value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Values(pub Vec<super::Value>);

impl FromRow for Values {
    fn from_row(row: &Row<'_, '_>) -> Result<Self, StoreError> {
        (0..row.len()).map(|i| row.get::<super::Value>(i)).collect::<Result<_, _>>().map(Values)
    }
}

/// An enum kept as text in the database: encoded and decoded here only, and a stored value this binary does not know is
/// an error, never a default. Declare one with [`crate::text_enum!`].
pub trait TextEnum: Sized + Copy + Send + 'static {
    /// What the value is, for the error that names an unknown stored value.
    const WHAT: &'static str;
    fn as_text(self) -> &'static str;
    fn from_text(text: &str) -> Option<Self>;
}

impl Row<'_, '_> {
    /// A text column holding a [`TextEnum`].
    pub fn get_enum<T: TextEnum>(&self, idx: usize) -> Result<T, StoreError> {
        let text: String = self.get(idx)?;
        T::from_text(&text)
            .ok_or_else(|| StoreError::Decode(format!("{} {text:?}: not a value this roster knows", T::WHAT)))
    }

    /// A nullable text column holding a [`TextEnum`].
    pub fn get_enum_opt<T: TextEnum>(&self, idx: usize) -> Result<Option<T>, StoreError> {
        let text: Option<String> = self.get(idx)?;
        text.map(|text| {
            T::from_text(&text)
                .ok_or_else(|| StoreError::Decode(format!("{} {text:?}: not a value this roster knows", T::WHAT)))
        })
        .transpose()
    }
}

impl<T: TextEnum> From<T> for super::Value {
    fn from(value: T) -> Self {
        super::Value::Text(value.as_text().to_owned())
    }
}

impl<T: TextEnum> From<Option<T>> for super::Value {
    fn from(value: Option<T>) -> Self {
        value.map_or(super::Value::Null, |v| super::Value::Text(v.as_text().to_owned()))
    }
}

/// Declare an enum kept as text: its variants with their text, serialised as that text, with `as_str`, `parse` and
/// [`TextEnum`].
///
/// ```ignore
/// text_enum!(
///     /// Where the account is in its lifecycle.
///     UserStatus { Active = "active", Suspended = "suspended" }
/// );
/// ```
#[macro_export]
macro_rules! text_enum {
    ($(#[doc = $doc:literal])* $name:ident { $($(#[doc = $vdoc:literal])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[doc = $vdoc])* #[serde(rename = $text)] $variant),+ }

        // by hand: the derive does not see a `rename` whose text comes through a macro, and documented the
        // variants' Rust names instead of their text
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .description(Some(concat!($($doc, "\n"),*).trim()))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl $crate::store::TextEnum for $name {
            const WHAT: &'static str = stringify!($name);
            fn as_text(self) -> &'static str {
                self.as_str()
            }
            fn from_text(text: &str) -> Option<Self> {
                Self::parse(text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
