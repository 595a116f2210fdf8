//! SCIM 2.0 (RFC 7643, RFC 7644): identity providers provision a tenant's users and groups under
//! `/scim/v2/tenants/{tenant}/`.
//!
//! A SCIM resource is the users or groups module's record said in SCIM's words ([`users`], [`groups`]); every change
//! goes through those modules, so it is authorized, validated and audited as any other. Requests are read the way
//! real providers send them (see [`patch`] and docs/scim.md for the quirks accepted).

pub mod attrs;
mod discovery;
mod error;
pub mod filter;
pub mod groups;
pub mod patch;
pub mod routes;
pub mod users;

pub use error::{as_scim_errors, ScimError, SCIM_JSON};

/// The core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
