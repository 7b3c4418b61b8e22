use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use commands::event_log::RecordedEvent;
use commands::{CommandContext, PgEventStore, StoreSettings, execute};
use domain::actor::{Actor, Role, UserId};
use domain::job::{Job, JobCommand};
use domain::line_id::LineId;
use domain::values::{Name, ProductId};
use projections::engine::projection::ChangedLines;
use projections::{Projection, ProjectionError};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// The horizon is cluster-wide, so other tests' transactions can hold a reader back for a while: tests
/// wait for conditions up to this long.
pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct Fixture {
    /// Connected as `ms5_app`, as the service is.
    pub app: PgPool,
    pub owner: PgPool,
    pub url: String,
}

pub async fn fixture() -> Fixture {
    let database = testkit::fresh_database().await;
    let app = commands::database::application_pool(&database.url, 40).await.unwrap();
    let owner = database.owner_pool().await;
    sqlx::query("CREATE TABLE test_applied (position bigint PRIMARY KEY, worker text NOT NULL)")
        .execute(&owner)
        .await
        .unwrap();
    sqlx::query("GRANT SELECT, INSERT, DELETE ON test_applied TO ms5_app").execute(&owner).await.unwrap();
    Fixture { app, owner, url: database.url }
}

impl Fixture {
    /// A pool of its own, as another process would have.
    pub async fn own_pool(&self) -> PgPool {
        commands::database::application_pool(&self.url, 4).await.unwrap()
    }

    pub fn jobs(&self) -> PgEventStore<Job> {
        PgEventStore::new(self.app.clone(), StoreSettings::default())
    }

    /// Catches `projection` up with every event in the log. The horizon is cluster-wide, so other tests'
    /// transactions may make that take more than one call.
    pub async fn caught_up<P: Projection>(&self, projection: &P) {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&self.owner).await.unwrap();
        let deadline = Instant::now() + DEADLINE;
        loop {
            projections::engine::worker::catch_up(&mut self.connection().await, projection, 1000).await.unwrap();
            let status =
                projections::engine::checkpoint::load(&mut self.connection().await, P::NAME, P::VERSION).await.unwrap();
            if status.events_applied >= total || Instant::now() > deadline {
                assert_eq!(status.events_applied, total, "{} caught up", P::NAME);
                return;
            }
        }
    }

    /// Runs the requested rebuild of `projection` to its end: every event into the other schema, then
    /// the switch.
    pub async fn rebuilt<P: Projection>(&self, projection: &P) {
        use projections::engine::colors::{self, Side};
        let deadline = Instant::now() + DEADLINE;
        let mut connection = self.connection().await;
        loop {
            let applied = projections::engine::worker::catch_up_side(&mut connection, projection, 1000, Side::Rebuild)
                .await
                .unwrap();
            if applied == 0 && colors::switch::<P>(&mut connection).await.unwrap().is_some() {
                return;
            }
            assert!(Instant::now() < deadline, "the rebuild of {} never switched", P::NAME);
        }
    }

    /// A connection as the application, for work that runs on one (a projection's batches), closed
    /// when dropped.
    pub async fn connection(&self) -> sqlx::PgConnection {
        self.app.acquire().await.unwrap().detach()
    }

    /// Every committed event's position, in position order.
    pub async fn committed_positions(&self) -> Vec<i64> {
        sqlx::query_scalar("SELECT position FROM events ORDER BY position").fetch_all(&self.owner).await.unwrap()
    }

    /// Waits until no committed event waits behind the cluster-wide horizon. The horizon only moves
    /// forward, so from then on a batch sees every event committed so far.
    pub async fn past_horizon(&self) {
        let deadline = Instant::now() + DEADLINE;
        while projections::engine::horizon::horizon(&self.app).await.unwrap().waiting_events > 0 {
            assert!(Instant::now() < deadline, "events still wait behind the horizon");
            tokio::task::yield_now().await;
        }
    }

    /// What the recorder applied: (position, worker), in position order.
    pub async fn applied(&self) -> Vec<(i64, String)> {
        sqlx::query_as("SELECT position, worker FROM test_applied ORDER BY position")
            .fetch_all(&self.owner)
            .await
            .unwrap()
    }

    /// Waits until the recorder has applied `count` events.
    pub async fn wait_for_applied(&self, count: usize) -> Vec<(i64, String)> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let applied = self.applied().await;
            if applied.len() >= count || Instant::now() > deadline {
                return applied;
            }
            tokio::task::yield_now().await;
        }
    }
}

/// A test projection that records which event positions it applied and who applied them; a second
/// application of one event breaks the primary key, and `poison` makes one event fail.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub worker: &'static str,
    pub poison: Option<i64>,
}

impl Recorder {
    pub fn new(worker: &'static str) -> Self {
        Self { worker, poison: None }
    }
}

impl Projection for Recorder {
    const NAME: &'static str = "test_recorder";
    const VERSION: i32 = 1;

    async fn apply(
        &self,
        transaction: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<ChangedLines, ProjectionError> {
        for event in events {
            if Some(event.position) == self.poison {
                return Err(ProjectionError::Inconsistent(format!("poisoned event {}", event.position)));
            }
            sqlx::query("INSERT INTO test_applied (position, worker) VALUES ($1, $2)")
                .bind(event.position)
                .bind(self.worker)
                .execute(&mut *transaction)
                .await?;
        }
        Ok(ChangedLines::new())
    }

    async fn reset(&self, transaction: &mut PgConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM test_applied").execute(transaction).await?;
        Ok(())
    }
}

pub fn context() -> CommandContext {
    CommandContext::new(Actor {
        user_id: UserId::from_uuid(Uuid::from_u128(0x0a)),
        printed_name: Name::parse("Ada Lovelace").unwrap(),
        role: Role::Operator,
    })
}

/// Creates a job of BOTTLE-500 on plant-1/packing/L3 and starts it: four events.
pub async fn running_job(store: &PgEventStore<Job>) -> String {
    running_job_on(store, "plant-1/packing/L3", "BOTTLE-500").await
}

/// Creates a job of `product` on `line` and starts it: four events.
pub async fn running_job_on(store: &PgEventStore<Job>, line: &str, product: &str) -> String {
    let id = Uuid::now_v7().to_string();
    let operator = context().actor;
    let commands = [
        JobCommand::Create {
            line: LineId::parse(line).unwrap(),
            product: ProductId::parse(product).unwrap(),
            target_quantity: NonZeroU64::new(100_000).unwrap_or(NonZeroU64::MIN),
        },
        JobCommand::AssignOperator { operator: operator.user_id, operator_name: operator.printed_name, reason: None },
        JobCommand::Accept { operator: operator.user_id },
        JobCommand::Start,
    ];
    for command in commands {
        execute(store, &id, command, &context()).await.expect("starting job");
    }
    id
}

pub async fn produce(store: &PgEventStore<Job>, id: &str, good: u64, reject: u64) {
    let reject_reason = (reject > 0).then(|| domain::line::RejectReason {
        code: domain::values::ReasonCode::parse("crushed").unwrap(),
        category: domain::values::RejectCategory::Production,
    });
    let command = JobCommand::RecordProduction { good, reject, reject_reason };
    execute(store, id, command, &context()).await.expect("production");
}
