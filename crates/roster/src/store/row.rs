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
