//! Token-bucket rate limits keyed by client address or account, answered with 429 and `Retry-After`.
//!
//! Buckets live in the process: behind a load balancer each API node limits on its own, so the effective limit is the
//! configured one times the number of nodes.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::Problem;

/// One limit: `per_minute` requests per key per minute, in bursts of up to the same number.
pub struct KeyedLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    what: &'static str,
}

impl KeyedLimit {
    pub fn per_minute(per_minute: u32, what: &'static str) -> Self {
        let n = NonZeroU32::new(per_minute.max(1)).expect("at least 1");
        Self { limiter: RateLimiter::keyed(Quota::per_minute(n)), what }
    }

    /// Take one token for `key`, or answer 429 with the seconds until the next one.
    pub fn check(&self, key: &str) -> Result<(), Problem> {
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut problem = Problem::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!("too many attempts for this {}; retry later", self.what),
            );
            problem.retry_after = Some(u32::try_from(wait.as_secs()).unwrap_or(u32::MAX).max(1));
            problem
        })
    }
}

/// The limits on sign-in and the other credential endpoints.
pub struct SignInLimits {
    pub per_address: KeyedLimit,
    pub per_account: KeyedLimit,
}

impl SignInLimits {
    pub fn new(per_address_per_minute: u32, per_account_per_minute: u32) -> Self {
        Self {
            per_address: KeyedLimit::per_minute(per_address_per_minute, "client address"),
            per_account: KeyedLimit::per_minute(per_account_per_minute, "account"),
        }
    }

    /// Check both buckets: the caller's address and the account it names.
    pub fn check(&self, address: Option<&str>, account: &str) -> Result<(), Problem> {
        self.per_address.check(address.unwrap_or("unknown"))?;
        self.per_account.check(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_names_the_wait() {
        let limit = KeyedLimit::per_minute(3, "account");
        for _ in 0..3 {
            limit.check("acme/ana").unwrap();
        }
        let refused = limit.check("acme/ana").unwrap_err();
        assert_eq!(refused.status, 429);
        assert!(refused.retry_after.is_some_and(|s| (1..=20).contains(&s)), "{:?}", refused.retry_after);
        limit.check("acme/bob").unwrap();
    }
}
