//! What every request handler shares: the pool, one event store per aggregate type, the token keys
//! and the settings.

use commands::{PgEventStore, StoreSettings};
use domain::andon::AndonCall;
use domain::checklist::{Checklist, ChecklistTemplate};
use domain::device::Device;
use domain::downtime::Downtime;
use domain::job::Job;
use domain::line::Line;
use domain::user::User;
use std::sync::Arc;

use projections::live::changes::Changes;
use projections::live::lag::Lag;
use projections::live::line_status::Boards;
use sqlx::PgPool;
use tokio::sync::OnceCell;

use crate::auth::session::RecentlyChecked;
use crate::auth::token::TokenKeys;
use crate::error::ApiError;
use crate::settings::ServiceSettings;

#[derive(Debug)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: ServiceSettings,
    /// Loaded on first use, so that the service starts (live, not ready) while the database is down.
    keys: OnceCell<TokenKeys>,
    pub lines: PgEventStore<Line>,
    pub jobs: PgEventStore<Job>,
    pub downtime: PgEventStore<Downtime>,
    pub andon: PgEventStore<AndonCall>,
    pub templates: PgEventStore<ChecklistTemplate>,
    pub checklists: PgEventStore<Checklist>,
    pub users: PgEventStore<User>,
    pub devices: PgEventStore<Device>,
    pub exports: PgEventStore<domain::export::Export>,
    pub shift_reports: PgEventStore<domain::shift_report::ShiftReport>,
    pub sessions: RecentlyChecked,
    /// The read models' commits as this process hears of them, for live streams and kept boards.
    pub changes: Arc<Changes>,
    pub boards: Boards,
    /// How far the boards' read models are behind the log, shared by every live stream.
    pub lag: Lag,
    /// Where dashboards, history and exports read: a replica while it keeps up, else the primary.
    pub reads: crate::reads::Reads,
}

impl AppState {
    pub fn new(pool: PgPool, settings: ServiceSettings) -> Self {
        let changes = Changes::new(pool.clone());
        Self {
            reads: crate::reads::Reads::new(pool.clone(), settings.read_replica.clone()),
            // Configured keys, or the database's, loaded on first use.
            keys: OnceCell::new_with(settings.token_keys.clone()),
            settings,
            lines: PgEventStore::new(pool.clone(), StoreSettings::default()),
            jobs: PgEventStore::new(pool.clone(), StoreSettings::default()),
            downtime: PgEventStore::new(pool.clone(), StoreSettings::default()),
            andon: PgEventStore::new(pool.clone(), StoreSettings::default()),
            templates: PgEventStore::new(pool.clone(), StoreSettings::default()),
            checklists: PgEventStore::new(pool.clone(), StoreSettings::default()),
            users: PgEventStore::new(pool.clone(), StoreSettings::default()),
            devices: PgEventStore::new(pool.clone(), StoreSettings::default()),
            exports: PgEventStore::new(pool.clone(), StoreSettings::default()),
            shift_reports: PgEventStore::new(pool.clone(), StoreSettings::default()),
            sessions: RecentlyChecked::default(),
            boards: Boards::new(Arc::clone(&changes)),
            lag: Lag::default(),
            changes,
            pool,
        }
    }
}

impl AppState {
    pub async fn keys(&self) -> Result<&TokenKeys, ApiError> {
        Ok(self.keys.get_or_try_init(|| TokenKeys::load_or_create(&self.pool)).await?)
    }
}
