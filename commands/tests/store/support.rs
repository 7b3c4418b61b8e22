use std::num::NonZeroU64;

use commands::{CommandContext, PgEventStore, StoreSettings, execute};
use domain::actor::{Actor, Role, UserId};
use domain::job::{Job, JobCommand};
use domain::line_id::LineId;
use domain::values::{Name, ProductId};
use sqlx::PgPool;
use testkit::TestDatabase;
use uuid::Uuid;

pub struct Fixture {
    pub database: TestDatabase,
    /// Connected as `ms5_app`, as the service is.
    pub app: PgPool,
}

pub async fn fixture() -> Fixture {
    let database = testkit::fresh_database().await;
    let app = commands::database::application_pool(&database.url, 40).await.expect("application pool");
    Fixture { database, app }
}

impl Fixture {
    /// A store as one service instance has it; two stores on one database act like two instances.
    pub fn store<A: domain::Aggregate>(&self) -> PgEventStore<A> {
        PgEventStore::new(self.app.clone(), StoreSettings::default())
    }
}

pub fn operator() -> Actor {
    Actor {
        user_id: UserId::from_uuid(Uuid::from_u128(0x0a)),
        printed_name: Name::parse("Ada Lovelace").unwrap(),
        role: Role::Operator,
    }
}

pub fn context() -> CommandContext {
    CommandContext::new(operator())
}

pub fn line() -> LineId {
    LineId::parse("plant-1/packing/L3").unwrap()
}

/// The commands that take a job from nothing to running.
pub fn job_start_commands() -> Vec<JobCommand> {
    vec![
        JobCommand::Create {
            line: line(),
            product: ProductId::parse("BOTTLE-500").unwrap(),
            target_quantity: NonZeroU64::new(100_000).unwrap_or(NonZeroU64::MIN),
        },
        JobCommand::AssignOperator {
            operator: operator().user_id,
            operator_name: operator().printed_name,
            reason: None,
        },
        JobCommand::Accept { operator: operator().user_id },
        JobCommand::Start,
    ]
}

pub async fn running_job(store: &PgEventStore<Job>) -> String {
    let id = Uuid::now_v7().to_string();
    for command in job_start_commands() {
        execute(store, &id, command, &context()).await.expect("starting job");
    }
    id
}

pub fn one_good() -> JobCommand {
    JobCommand::RecordProduction { good: 1, reject: 0, reject_reason: None }
}

pub async fn count_events(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(pool).await.unwrap()
}
