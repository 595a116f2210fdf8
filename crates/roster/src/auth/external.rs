//! Sign-in through an external identity provider, vouched for by the application (an API key): the user is found or
//! created by `(identity_provider, identity_provider_id)`, and the sign-in is recorded like a password sign-in.

use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::login::{invalid_credentials, open_session, LoginResponse};
use crate::config::Config;
use crate::http::Problem;
use crate::principal::{Actor, ActorKind, TenantScope};
use crate::store::Store;
use crate::users::{self, ExternalIdentity, NewUser, Passwords, UserStatus};

/// `POST …/auth/external`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalRequest {
    /// e.g. `entra_id`, `google`
    pub identity_provider: String,
    pub identity_provider_id: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// Link an existing user with the same email that has no identity yet; without it such a user is a conflict.
    #[serde(default)]
    pub link_by_email: bool,
}

pub async fn sign_in(
    store: &Store,
    config: &Config,
    now: OffsetDateTime,
    scope: &TenantScope,
    request: ExternalRequest,
) -> Result<LoginResponse, Problem> {
    if scope.actor().api_key_id.is_none() {
        return Err(Problem::forbidden("external sign-in is for applications: call it with an API key"));
    }
    if scope.tenant().status != "active" {
        return Err(invalid_credentials());
    }
    let (provider, provider_id) = (request.identity_provider.as_str(), request.identity_provider_id.as_str());
    let email = request.email.as_deref();
    let identity = ExternalIdentity { provider, provider_id, email, display_name: request.display_name.as_deref() };
    let user = match users::find_by_identity(store, scope.tenant_id(), provider, provider_id).await? {
        Some(user) => users::link_identity(store, scope, now, &user, identity).await?,
        None => match email {
            Some(address) => match users::find_by_email_in(store, scope.tenant_id(), address).await? {
                Some(existing) if request.link_by_email && existing.identity_provider.is_none() => {
                    users::link_identity(store, scope, now, &existing, identity).await?
                }
                Some(_) => {
                    return Err(Problem::conflict(
                        "email",
                        "a user with this email exists; send link_by_email to link it to this identity",
                    ))
                }
                None => create(store, config, now, scope, &request).await?,
            },
            None => create(store, config, now, scope, &request).await?,
        },
    };
    if user.status != UserStatus::Active.as_str() {
        return Err(invalid_credentials());
    }
    let signing_in = Actor { kind: Some(ActorKind::ApiKey), user_id: Some(user.id), ..scope.actor().clone() };
    let scope = TenantScope::anonymous(scope.tenant().clone(), signing_in);
    let facts = serde_json::json!({"method": "external", "identity_provider": provider});
    open_session(store, config, &scope, &user, now, None, facts).await
}

async fn create(
    store: &Store,
    config: &Config,
    now: OffsetDateTime,
    scope: &TenantScope,
    request: &ExternalRequest,
) -> Result<users::User, Problem> {
    // Without an email the user still needs a name to be found by: the provider and its id, in username characters.
    let username = request.email.is_none().then(|| {
        format!("{}-{}", request.identity_provider, request.identity_provider_id)
            .chars()
            .map(|c| if c.is_alphanumeric() || "._-@+".contains(c) { c } else { '-' })
            .take(100)
            .collect::<String>()
    });
    let input = NewUser {
        email: request.email.clone(),
        username,
        display_name: request.display_name.clone(),
        identity_provider: Some(request.identity_provider.clone()),
        identity_provider_id: Some(request.identity_provider_id.clone()),
        ..NewUser::default()
    };
    users::create_external(store, scope, &Passwords::from_config(config), now, input).await
}
