//! roster: a multi-tenant user directory.
//!
//! Layers point one way: [`app`] → modules ([`tenants`], [`users`], [`auth`], [`audit`]) → [`store`]; every layer may
//! use the [`http`] machinery, [`config`], [`clock`] and [`principal`].

pub mod app;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod clients;
pub mod clock;
pub mod config;
pub mod console;
pub mod contributions;
pub mod groups;
pub mod http;
pub mod migrate;
pub mod patch;
pub mod permissions;
pub mod principal;
pub mod scim;
pub mod secrets;
pub mod store;
pub mod tenants;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tokens;
pub mod training;
pub mod users;

pub use app::{migrations, App};
