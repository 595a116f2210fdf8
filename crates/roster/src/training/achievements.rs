//! A tenant's catalogue of achievements: admins add to it, everyone of the tenant reads it, and resolving a session
//! awards what the user's record now meets ([`super::sessions::resolve`]), each achievement once per user.

use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{self, Achievement, Criteria, Earned, NewAchievement};
use super::{repo, TrainingError};
use crate::audit::{self, Action, Change};
use crate::http::pagination::{self, Page, PageParams};
use crate::principal::{AdminScope, TenantId, TenantScope};
use crate::store::Store;

/// The achievements a tenant's catalogue may hold: each resolution weighs the ones its user has not earned yet.
pub const MAX_ACHIEVEMENTS: i64 = 200;

/// Add an achievement to the tenant's catalogue (admin); 409 if its code is taken. It is awarded from the next
/// resolved session on, to everyone whose record then meets it.
pub async fn create(
    store: &Store,
    scope: AdminScope<'_>,
    now: OffsetDateTime,
    input: NewAchievement,
) -> Result<Achievement, TrainingError> {
    let mut checks = super::Checks::default();
    let code = checks.take(model::code(&input.code));
    let name = checks.take(model::name(&input.name));
    let description = checks.take(model::description(input.description.as_deref().unwrap_or_default()));
    let criteria = checks.take(Criteria::parse(input.criteria));
    let xp_bonus = checks.take(model::xp_bonus(input.xp_bonus.unwrap_or(0)));
    checks.finish()?;
    // each is there once the checks passed
    let (Some(code), Some(name), Some(description), Some(criteria), Some(xp_bonus)) =
        (code, name, description, criteria, xp_bonus)
    else {
        return Err(TrainingError::Invalid(Vec::new()));
    };
    let achievement = Achievement {
        id: Uuid::now_v7(),
        tenant_id: scope.tenant_id().uuid(),
        code,
        name,
        description,
        tier: input.tier,
        criteria,
        xp_bonus,
        created_at: now,
    };
    let mut tx = store.begin().await?;
    if repo::achievement_count(&mut tx, scope.tenant_id()).await? >= MAX_ACHIEVEMENTS {
        return Err(crate::http::FieldError::new(
            "code",
            format!("the catalogue holds its most achievements ({MAX_ACHIEVEMENTS})"),
        )
        .into());
    }
    repo::insert_achievement(&mut tx, scope, &achievement).await?;
    let change = Change::new(Action::Create, "achievement", achievement.id).values(None, Some(achievement.audited()));
    audit::record(&mut tx, &scope, now, change).await?;
    tx.commit().await?;
    Ok(achievement)
}

/// A page of the tenant's catalogue (anyone of the tenant).
pub async fn list(store: &Store, scope: &TenantScope, page: &PageParams) -> Result<Page<Achievement>, TrainingError> {
    let limit = pagination::limit(page.limit)?;
    let after = pagination::decode_cursor(page.cursor.as_deref())?;
    let rows = repo::achievements(store, scope.tenant_id(), after, limit).await?;
    Ok(pagination::page(rows, limit, |a| a.id))
}

/// The achievements a user earned, in the order earned. The caller decided who may see them.
pub async fn earned(store: &Store, tenant_id: TenantId, user_id: Uuid) -> Result<Vec<Earned>, TrainingError> {
    Ok(repo::earned(store, tenant_id, user_id).await?)
}
