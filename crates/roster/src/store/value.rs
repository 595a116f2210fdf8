//! One parameter type bound by both drivers, and one decoding trait read by both.
//!
//! Storage types (STYLE.md, "Store"): UUIDs are 16-byte BLOBs / `uuid`, timestamps are INTEGER microseconds since the
//! epoch / `timestamptz`, calendar dates are ISO 8601 TEXT (`YYYY-MM-DD`, which sorts as the dates do) / `date`, JSON
//! is TEXT / `jsonb`, booleans are INTEGER / `bool`.

use std::error::Error as StdError;

use bytes::BytesMut;
use rusqlite::types::{ToSqlOutput, ValueRef};
use time::{Date, OffsetDateTime};
use tokio_postgres::types::{IsNull, ToSql as PgToSql, Type};
use uuid::Uuid;

/// A query parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    I64(i64),
    F64(f64),
    Text(String),
    Bytes(Vec<u8>),
    Uuid(Uuid),
    Timestamp(OffsetDateTime),
    Date(Date),
    Json(serde_json::Value),
    /// A JSON document already serialised (compact), bound as TEXT / `jsonb` without another pass over it.
    JsonText(String),
    /// A PostgreSQL array of the element type the statement names (`$3::uuid[]`): many rows in one parameter, for
    /// `unnest`. SQLite has no arrays and refuses it.
    Array(Vec<Value>),
}

macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$variant(v.into()) }
        }
        impl From<Option<$t>> for Value {
            fn from(v: Option<$t>) -> Self { v.map_or(Value::Null, |v| Value::$variant(v.into())) }
        }
    )*};
}
value_from!(bool => Bool, i64 => I64, i32 => I64, u32 => I64, f64 => F64, String => Text, &str => Text,
    Vec<u8> => Bytes, Uuid => Uuid, OffsetDateTime => Timestamp, Date => Date, serde_json::Value => Json);

impl From<crate::principal::TenantId> for Value {
    fn from(v: crate::principal::TenantId) -> Self {
        Value::Uuid(v.uuid())
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<Option<&String>> for Value {
    fn from(v: Option<&String>) -> Self {
        v.map_or(Value::Null, |v| Value::Text(v.clone()))
    }
}
impl From<&Uuid> for Value {
    fn from(v: &Uuid) -> Self {
        Value::Uuid(*v)
    }
}

/// Microseconds since the epoch: the SQLite representation of a timestamp.
pub fn to_micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// `YYYY-MM-DD`: the SQLite representation of a date.
fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The inverse of [`to_micros`].
pub fn from_micros(micros: i64) -> Result<OffsetDateTime, time::error::ComponentRange> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Bool(b) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(*b))),
            Value::I64(i) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*i)),
            Value::F64(f) => ToSqlOutput::Owned(rusqlite::types::Value::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Uuid(u) => ToSqlOutput::Borrowed(ValueRef::Blob(u.as_bytes())),
            Value::Timestamp(t) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(to_micros(*t))),
            Value::Date(d) => ToSqlOutput::Owned(rusqlite::types::Value::Text(iso_date(*d))),
            Value::Json(j) => ToSqlOutput::Owned(rusqlite::types::Value::Text(j.to_string())),
            Value::JsonText(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Array(_) => {
                return Err(rusqlite::Error::ToSqlConversionFailure("SQLite cannot bind an array".into()));
            }
        })
    }
}

impl PgToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        // Delegate to the checked variants so a type mismatch is a clear error, not corrupt binary data.
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(v) => v.to_sql_checked(ty, out),
            Value::I64(v) => v.to_sql_checked(ty, out),
            Value::F64(v) => v.to_sql_checked(ty, out),
            Value::Text(v) => v.to_sql_checked(ty, out),
            Value::Bytes(v) => v.to_sql_checked(ty, out),
            Value::Uuid(v) => v.to_sql_checked(ty, out),
            Value::Timestamp(v) => v.to_sql_checked(ty, out),
            Value::Date(v) => v.to_sql_checked(ty, out),
            Value::Json(v) => v.to_sql_checked(ty, out),
            Value::JsonText(v) => {
                if *ty == Type::JSONB {
                    // jsonb's binary format: a version byte, then the text
                    out.extend_from_slice(&[1]);
                } else if *ty != Type::JSON {
                    return Err(format!("cannot bind JSON text to a {ty} column").into());
                }
                out.extend_from_slice(v.as_bytes());
                Ok(IsNull::No)
            }
            Value::Array(v) => v.to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// A column type that both drivers can decode.
pub trait Decode: Sized {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String>;
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error>;
}

fn sqlite_type_error(expected: &str, got: ValueRef<'_>) -> String {
    format!("expected {expected}, found {:?}", got.data_type())
}

macro_rules! decode_option {
    ($($t:ty),*) => {$(
        impl Decode for Option<$t> {
            fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
                match value {
                    ValueRef::Null => Ok(None),
                    v => <$t as Decode>::from_sqlite(v).map(Some),
                }
            }
            fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
                row.try_get::<_, Option<$t>>(idx)
            }
        }
    )*};
}

impl Decode for i64 {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        value.as_i64().map_err(|_| sqlite_type_error("integer", value))
    }
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        row.try_get(idx)
    }
}

impl Decode for f64 {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        match value {
            ValueRef::Real(f) => Ok(f),
            ValueRef::Integer(i) => Ok(i as f64),
            v => Err(sqlite_type_error("real", v)),
        }
    }
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        row.try_get(idx)
    }
}

impl Decode for bool {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        value.as_i64().map(|i| i != 0).map_err(|_| sqlite_type_error("boolean", value))
    }
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        row.try_get(idx)
    }
}

impl Decode for String {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        value.as_str().map(str::to_owned).map_err(|_| sqlite_type_error("text", value))
    }
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        row.try_get(idx)
    }
}

impl Decode for Vec<u8> {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        value.as_blob().map(<[u8]>::to_vec).map_err(|_| sqlite_type_error("blob", value))
    }
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        row.try_get(idx)
    }
}

impl Decode for Uuid {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        let bytes = value.as_blob().map_err(|_| sqlite_type_error("uuid blob", value))?;
        Uuid::from_slice(bytes).map_err(|e| e.to_string())
    }
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        row.try_get(idx)
    }
}

impl Decode for OffsetDateTime {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        let micros = value.as_i64().map_err(|_| sqlite_type_error("timestamp", value))?;
        from_micros(micros).map_err(|e| e.to_string())
    }
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        row.try_get(idx)
    }
}

impl Decode for Date {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        let text = value.as_str().map_err(|_| sqlite_type_error("date text", value))?;
        Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).map_err(|e| e.to_string())
    }
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        row.try_get(idx)
    }
}

impl Decode for serde_json::Value {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        let text = value.as_str().map_err(|_| sqlite_type_error("json text", value))?;
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        row.try_get(idx)
    }
}

decode_option!(i64, f64, bool, String, Vec<u8>, Uuid, OffsetDateTime, Date, serde_json::Value);

/// What a column holds, whatever the backend stores it as: PostgreSQL's column types name it (a SQLite column says
/// only INTEGER, TEXT or BLOB, so a copy between the backends reads the kinds off the PostgreSQL side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Uuid,
    Timestamp,
    Bool,
    Json,
    Int,
    Float,
    Text,
    Bytes,
    Date,
}

impl Kind {
    /// The kind of a PostgreSQL type, by its `udt_name`.
    pub fn of_postgres(udt_name: &str) -> Option<Kind> {
        Some(match udt_name {
            "uuid" => Kind::Uuid,
            "timestamptz" => Kind::Timestamp,
            "bool" => Kind::Bool,
            "jsonb" | "json" => Kind::Json,
            "int8" | "int4" | "int2" => Kind::Int,
            "float8" | "float4" => Kind::Float,
            "text" | "varchar" => Kind::Text,
            "bytea" => Kind::Bytes,
            "date" => Kind::Date,
            _ => return None,
        })
    }
}

/// Any column, as the backend gives it: SQLite's storage class (integer, real, text, blob), PostgreSQL's type.
/// [`Value::into_kind`] then reads it as its column's [`Kind`].
impl Decode for Value {
    fn from_sqlite(value: ValueRef<'_>) -> Result<Self, String> {
        Ok(match value {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::I64(i),
            ValueRef::Real(f) => Value::F64(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8(t.to_vec()).map_err(|e| e.to_string())?),
            ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        })
    }

    fn from_postgres(row: &tokio_postgres::Row, idx: usize) -> Result<Self, tokio_postgres::Error> {
        fn or_null<T>(value: Option<T>, wrap: impl FnOnce(T) -> Value) -> Value {
            value.map_or(Value::Null, wrap)
        }
        let ty = row.columns()[idx].type_().clone();
        Ok(match ty {
            Type::UUID => or_null(row.try_get(idx)?, Value::Uuid),
            Type::TIMESTAMPTZ => or_null(row.try_get(idx)?, Value::Timestamp),
            Type::BOOL => or_null(row.try_get(idx)?, Value::Bool),
            Type::JSONB | Type::JSON => or_null(row.try_get(idx)?, Value::Json),
            Type::INT8 => or_null(row.try_get(idx)?, Value::I64),
            Type::INT4 => or_null(row.try_get::<_, Option<i32>>(idx)?, |i| Value::I64(i.into())),
            Type::FLOAT8 => or_null(row.try_get(idx)?, Value::F64),
            Type::BYTEA => or_null(row.try_get(idx)?, Value::Bytes),
            Type::DATE => or_null(row.try_get(idx)?, Value::Date),
            _ => or_null(row.try_get(idx)?, Value::Text),
        })
    }
}

impl Value {
    /// This value read as a column of `kind` holds it: SQLite's integers as timestamps or booleans, its blobs as
    /// UUIDs, its text as JSON or dates. A value already of its kind stays as it is.
    pub fn into_kind(self, kind: Kind) -> Result<Value, String> {
        Ok(match (self, kind) {
            (Value::Null, _) => Value::Null,
            (Value::I64(micros), Kind::Timestamp) => Value::Timestamp(from_micros(micros).map_err(|e| e.to_string())?),
            (Value::I64(i), Kind::Bool) => Value::Bool(i != 0),
            (Value::I64(i), Kind::Float) => Value::F64(i as f64),
            (Value::Bytes(b), Kind::Uuid) => Value::Uuid(Uuid::from_slice(&b).map_err(|e| e.to_string())?),
            (Value::Text(t), Kind::Json) => Value::JsonText(t),
            (Value::Text(t), Kind::Date) => Value::Date(
                Date::parse(&t, time::macros::format_description!("[year]-[month]-[day]"))
                    .map_err(|e| e.to_string())?,
            ),
            (v @ Value::Uuid(_), Kind::Uuid)
            | (v @ Value::Timestamp(_), Kind::Timestamp)
            | (v @ Value::Bool(_), Kind::Bool)
            | (v @ (Value::Json(_) | Value::JsonText(_)), Kind::Json)
            | (v @ Value::I64(_), Kind::Int)
            | (v @ Value::F64(_), Kind::Float)
            | (v @ Value::Text(_), Kind::Text)
            | (v @ Value::Bytes(_), Kind::Bytes)
            | (v @ Value::Date(_), Kind::Date) => v,
            (v, kind) => return Err(format!("{v:?} is no {kind:?}")),
        })
    }
}
