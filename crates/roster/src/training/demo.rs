//! `roster seed --demo`: a populated training tenant for a newcomer to look around in — six support-desk scenarios
//! across the three difficulties with their tickets, customers, knowledge base and assessment criteria, a set of
//! achievements, demo users and their practice history, made through the same functions the API calls (so XP,
//! levels and achievements are computed, and audited, as for real). Running it again adds only what is missing.

use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{Difficulty, NewAchievement, NewMessage, NewScenario, Resolution, ScenarioFilter, SenderType, Tier};
use super::{achievements, sessions, StartSession, TrainingError};
use crate::principal::TenantScope;
use crate::store::Store;
use crate::users::{self, NewUser, Passwords, UserError};

/// What a demo seed made; empty on a run that found everything there.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DemoSummary {
    pub scenarios_created: usize,
    pub achievements_created: usize,
    /// The demo users made by this run (all sign in with `password`).
    pub users_created: Vec<String>,
    /// The password of the users made by this run, shown once.
    pub password: Option<String>,
    pub sessions_completed: usize,
    pub sessions_abandoned: usize,
    pub sessions_active: usize,
    pub achievements_awarded: usize,
}

/// A scenario of the demo, with the lines its practice transcripts are made of.
struct DemoScenario {
    title: &'static str,
    difficulty: Difficulty,
    minutes: i64,
    xp_reward: i64,
    /// Indexes of earlier demo scenarios to complete first.
    prerequisites: &'static [usize],
    ticket: Value,
    persona: Value,
    knowledge: Value,
    criteria: Value,
    /// The customer's opening, the trainee's answer, the customer's reply, the application's note.
    lines: [&'static str; 4],
}

fn catalogue() -> Vec<DemoScenario> {
    vec![
        DemoScenario {
            title: "Locked out before a meeting",
            difficulty: Difficulty::Starter,
            minutes: 10,
            xp_reward: 100,
            prerequisites: &[],
            ticket: json!({"subject": "Can't sign in", "channel": "chat", "priority": "normal", "category": "account",
                "body": "I typed my password wrong a few times and now it says my account is locked."}),
            persona: json!({"name": "Maria Souza", "mood": "anxious", "patience": "low", "technical_level": "low",
                "goal": "get back in before her 10 o'clock meeting"}),
            knowledge: json!([
                {"title": "Account lockout", "body": "Five failed sign-ins lock an account for 15 minutes; an agent can unlock it after verifying identity."},
                {"title": "Verifying identity", "body": "Confirm the email on file and the last sign-in date before changing anything."}
            ]),
            criteria: json!({"weights": {"verification": 2, "communication": 1.5}, "must": ["verify identity before unlocking"]}),
            lines: [
                "My account is locked and I have a meeting in ten minutes!",
                "I can help right away. Can you confirm the email address on your account?",
                "It's maria.souza@example.com.",
                "identity verified; account unlocked",
            ],
        },
        DemoScenario {
            title: "Where is my order?",
            difficulty: Difficulty::Starter,
            minutes: 10,
            xp_reward: 100,
            prerequisites: &[],
            ticket: json!({"subject": "Order not delivered", "channel": "email", "priority": "low", "category": "shipping",
                "body": "My order was due on Monday and the tracking page has not changed since Friday."}),
            persona: json!({"name": "João Pereira", "mood": "annoyed", "patience": "medium", "technical_level": "medium",
                "goal": "know when the parcel arrives"}),
            knowledge: json!([
                {"title": "Carrier delays", "body": "Tracking that has not moved for 3 business days is escalated to the carrier."},
                {"title": "Reshipping", "body": "A lost parcel is reshipped at no cost once the carrier confirms the loss."}
            ]),
            criteria: json!({"weights": {"communication": 2, "response_time": 1.5}}),
            lines: [
                "My order still hasn't arrived and the tracking is stuck.",
                "Sorry about the wait. I've opened a trace with the carrier; may I have the order number?",
                "It's 48213.",
                "carrier trace opened for order 48213",
            ],
        },
        DemoScenario {
            title: "Charged twice",
            difficulty: Difficulty::Intermediate,
            minutes: 20,
            xp_reward: 200,
            prerequisites: &[0],
            ticket: json!({"subject": "Double charge", "channel": "phone", "priority": "high", "category": "billing",
                "body": "My card was charged twice for the same subscription this month."}),
            persona: json!({"name": "Ana Ribeiro", "mood": "angry", "patience": "low", "technical_level": "medium",
                "goal": "get the duplicate refunded and an apology"}),
            knowledge: json!([
                {"title": "Duplicate charges", "body": "Refund the newer of two identical charges; refunds reach the card in 5 to 10 business days."},
                {"title": "Refund policy", "body": "Agents may refund up to one month of a subscription without approval."}
            ]),
            criteria: json!({"weights": {"verification": 1.5, "technical": 2, "documentation": 1.5}}),
            lines: [
                "You charged me twice! I want my money back now.",
                "You're right, I can see both charges. I'm refunding the second one now.",
                "How long until I see it?",
                "refund of the duplicate charge issued",
            ],
        },
        DemoScenario {
            title: "Turning on two-factor sign-in",
            difficulty: Difficulty::Intermediate,
            minutes: 20,
            xp_reward: 200,
            prerequisites: &[0],
            ticket: json!({"subject": "Help with 2FA", "channel": "chat", "priority": "normal", "category": "security",
                "body": "My company now requires two-factor sign-in and the QR code doesn't scan."}),
            persona: json!({"name": "Pedro Almeida", "mood": "confused", "patience": "high", "technical_level": "low",
                "goal": "finish enrolment today"}),
            knowledge: json!([
                {"title": "Enrolling an authenticator", "body": "If the QR code does not scan, the secret can be typed into the app by hand."},
                {"title": "Recovery codes", "body": "Ask the customer to store the recovery codes before confirming."}
            ]),
            criteria: json!({"weights": {"technical": 2, "communication": 1.5}}),
            lines: [
                "The QR code won't scan on my phone.",
                "No problem: choose 'enter a setup key' in your app and type the code shown under the QR image.",
                "That worked! It's asking for a code now.",
                "two-factor enrolment confirmed",
            ],
        },
        DemoScenario {
            title: "Suspected account takeover",
            difficulty: Difficulty::Advanced,
            minutes: 30,
            xp_reward: 350,
            prerequisites: &[2, 3],
            ticket: json!({"subject": "Someone else is in my account", "channel": "phone", "priority": "urgent",
                "category": "security", "body": "I got emails about a new device and a changed address that I didn't make."}),
            persona: json!({"name": "Luiza Carvalho", "mood": "scared", "patience": "low", "technical_level": "medium",
                "goal": "lock the intruder out and undo the changes"}),
            knowledge: json!([
                {"title": "Takeover response", "body": "Verify the caller through a channel the intruder cannot reach, end every session, force a password reset."},
                {"title": "Audit trail", "body": "The audit log shows every change with its address and time; note them in the ticket."}
            ]),
            criteria: json!({"weights": {"verification": 3, "technical": 2, "documentation": 2}}),
            lines: [
                "Someone changed my address and added a device. Please help!",
                "I'll secure the account now. First, I'm sending a code to the phone number we had on file last month.",
                "I got it: 731 902.",
                "sessions revoked; password reset forced; changes noted from the audit log",
            ],
        },
        DemoScenario {
            title: "An enterprise customer's outage",
            difficulty: Difficulty::Advanced,
            minutes: 40,
            xp_reward: 400,
            prerequisites: &[1, 3],
            ticket: json!({"subject": "Nobody can sign in", "channel": "phone", "priority": "urgent", "category": "outage",
                "body": "Since 9:05 none of our 400 staff can sign in through our identity provider."}),
            persona: json!({"name": "Ricardo Gomes", "role": "IT director", "mood": "under pressure", "patience": "low",
                "technical_level": "high", "goal": "a workaround within the hour and a timeline"}),
            knowledge: json!([
                {"title": "Identity provider sign-in", "body": "A certificate rotated on the provider's side stops external sign-in until the new one is uploaded."},
                {"title": "Escalation", "body": "Outages for more than 50 users page the on-call engineer and get updates every 30 minutes."}
            ]),
            criteria: json!({"weights": {"technical": 3, "response_time": 2, "communication": 1.5}}),
            lines: [
                "None of my people can sign in. This is costing us money every minute.",
                "I'm paging our on-call engineer now. Did your identity provider rotate its signing certificate this morning?",
                "Let me check... yes, at 9:00.",
                "incident opened; on-call paged; certificate update guided",
            ],
        },
    ]
}

fn demo_achievements() -> Vec<(&'static str, &'static str, &'static str, Tier, Value, i64)> {
    vec![
        (
            "first-steps",
            "First steps",
            "Complete a practice session",
            Tier::Bronze,
            json!({"kind": "sessions_completed", "count": 1}),
            25,
        ),
        (
            "regular",
            "Regular",
            "Complete five practice sessions",
            Tier::Silver,
            json!({"kind": "sessions_completed", "count": 5}),
            50,
        ),
        (
            "sharp",
            "Sharp",
            "Score 90 or more overall in three sessions",
            Tier::Gold,
            json!({"kind": "score_at_least", "score": 90, "sessions": 3}),
            100,
        ),
        (
            "past-the-basics",
            "Past the basics",
            "Complete an intermediate scenario",
            Tier::Silver,
            json!({"kind": "difficulty_completed", "difficulty": "intermediate"}),
            50,
        ),
        (
            "the-hard-ones",
            "The hard ones",
            "Complete an advanced scenario",
            Tier::Gold,
            json!({"kind": "difficulty_completed", "difficulty": "advanced"}),
            100,
        ),
        ("level-5", "Level 5", "Reach level 5", Tier::Platinum, json!({"kind": "level_reached", "level": 5}), 150),
    ]
}

/// A demo user: its username, display name, and its history: (scenario index, scores) of each completed session,
/// then a scenario it abandoned and one it is in the middle of, if any.
type History = (&'static str, &'static str, &'static [(usize, [i64; 5])], Option<usize>, Option<usize>);

const PEOPLE: [History; 4] = [
    (
        "ana.lima",
        "Ana Lima",
        &[
            (0, [95, 92, 90, 88, 97]),
            (1, [90, 94, 85, 90, 92]),
            (2, [93, 90, 95, 91, 88]),
            (3, [88, 91, 94, 90, 90]),
            (4, [96, 89, 92, 94, 85]),
            (5, [90, 92, 97, 88, 93]),
        ],
        None,
        None,
    ),
    (
        "bruno.costa",
        "Bruno Costa",
        &[(0, [78, 85, 70, 65, 90]), (1, [80, 75, 72, 70, 85]), (2, [70, 80, 75, 68, 72])],
        None,
        Some(3),
    ),
    ("carla.mendes", "Carla Mendes", &[(0, [60, 72, 58, 55, 80])], Some(1), None),
    ("diego.rocha", "Diego Rocha", &[], None, Some(0)),
];

/// Seed the demo content into the tenant of `scope` (an operator's), adding only what is missing.
pub async fn seed(
    store: &Store,
    scope: &TenantScope,
    passwords: &Passwords,
    now: OffsetDateTime,
) -> Result<DemoSummary, TrainingError> {
    let admin = scope.admin()?;
    let mut summary = DemoSummary::default();

    // scenarios, found again by title
    let mut existing = Vec::new();
    let mut filter = ScenarioFilter { limit: Some(500), ..ScenarioFilter::default() };
    loop {
        let page = super::scenarios(store, scope, &filter).await?;
        existing.extend(page.items);
        match page.next_cursor {
            Some(cursor) => filter.cursor = Some(cursor),
            None => break,
        }
    }
    let demo = catalogue();
    let mut ids: Vec<Uuid> = Vec::with_capacity(demo.len());
    for scenario in &demo {
        if let Some(found) = existing.iter().find(|s| s.title == scenario.title) {
            ids.push(found.id);
            continue;
        }
        let input = NewScenario {
            description: Some(format!(
                "{} ({})",
                scenario.ticket["body"].as_str().unwrap_or_default(),
                scenario.persona["goal"].as_str().unwrap_or_default()
            )),
            estimated_time: Some(scenario.minutes),
            xp_reward: Some(scenario.xp_reward),
            ticket_template: Some(scenario.ticket.clone()),
            customer_persona: Some(scenario.persona.clone()),
            knowledge_base_entries: Some(scenario.knowledge.clone()),
            assessment_criteria: Some(scenario.criteria.clone()),
            prerequisites: Some(scenario.prerequisites.iter().map(|i| ids[*i]).collect()),
            ..NewScenario::titled(scenario.title, scenario.difficulty)
        };
        ids.push(super::create_scenario(store, admin, now, input).await?.id);
        summary.scenarios_created += 1;
    }

    // achievements, found again by code
    let known = achievements::list(store, scope, &crate::http::PageParams { limit: Some(500), cursor: None }).await?;
    for (code, name, description, tier, criteria, xp_bonus) in demo_achievements() {
        if known.items.iter().any(|a| a.code == code) {
            continue;
        }
        let input = NewAchievement {
            code: code.into(),
            name: name.into(),
            description: Some(description.into()),
            tier,
            criteria,
            xp_bonus: Some(xp_bonus),
        };
        achievements::create(store, admin, now, input).await?;
        summary.achievements_created += 1;
    }

    // people and their history: only for the users this run makes
    let password = crate::tokens::generate("")[..20].to_owned();
    for (username, display_name, completed, abandoned, active) in PEOPLE {
        match users::find_by_username(store, admin, username).await {
            Ok(_) => continue,
            Err(UserError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
        let input = NewUser {
            username: Some(username.into()),
            email: Some(format!("{username}@demo.example")),
            display_name: Some(display_name.into()),
            password: Some(password.clone()),
            ..NewUser::default()
        };
        let user = users::create(store, admin, passwords, now, input).await?;
        summary.users_created.push(username.into());
        for (index, scores) in completed {
            let session = practise(store, scope, now, ids[*index], user.id, &demo[*index]).await?;
            let resolved = sessions::resolve(store, scope, now, session, Resolution::scored(*scores)).await?;
            summary.sessions_completed += 1;
            summary.achievements_awarded += resolved.achievements_awarded.len();
        }
        if let Some(index) = abandoned {
            let session = practise(store, scope, now, ids[index], user.id, &demo[index]).await?;
            sessions::abandon(store, scope, now, session).await?;
            summary.sessions_abandoned += 1;
        }
        if let Some(index) = active {
            practise(store, scope, now, ids[index], user.id, &demo[index]).await?;
            summary.sessions_active += 1;
        }
    }
    if !summary.users_created.is_empty() {
        summary.password = Some(password);
    }
    Ok(summary)
}

/// Start a session of the scenario for the user, with its transcript; the session's id.
async fn practise(
    store: &Store,
    scope: &TenantScope,
    now: OffsetDateTime,
    scenario: Uuid,
    user: Uuid,
    demo: &DemoScenario,
) -> Result<Uuid, TrainingError> {
    let session = sessions::start(store, scope, now, scenario, StartSession { user_id: Some(user) }).await?.id;
    let senders = [SenderType::Customer, SenderType::User, SenderType::Customer, SenderType::System];
    for (sender, line) in senders.into_iter().zip(demo.lines) {
        let message_type = (sender == SenderType::System).then_some(super::MessageType::Action);
        let input = NewMessage { sender_type: sender, message_type, content: line.into(), metadata: None };
        sessions::post_message(store, scope, now, session, input).await?;
    }
    Ok(session)
}
