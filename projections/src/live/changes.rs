//! One follower per process of the read models' commit notifications ([`crate::engine::committed`]). It tells
//! live streams which lines may have changed, and keeps per line a version that moves whenever a commit
//! may have changed the line's rows, so a line's board is read again only then ([`crate::live::line_status`]).
//! A stream of one line is told only of commits that may have changed that line: with thousands of
//! streams, waking each of them for every commit of every line would cost more than the streams' work.
//! While it is not listening (starting, or the connection dropped) it knows nothing, and says so: every
//! notification missed meanwhile counts as a change of every line.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Once, Weak};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::broadcast;

use crate::engine::committed::{CHANNEL, Committed};

/// The lines a commit may have changed; `None`: any line.
#[derive(Debug, Clone)]
pub struct Changed(Option<Arc<[String]>>);

impl Changed {
    const EVERY_LINE: Self = Self(None);

    pub fn names(&self, line: &str) -> bool {
        self.0.as_ref().is_none_or(|lines| lines.iter().any(|named| named == line))
    }

    /// Whether a line whose id starts with `prefix` may have changed.
    pub fn names_any_under(&self, prefix: &str) -> bool {
        self.0.as_ref().is_none_or(|lines| lines.iter().any(|named| named.starts_with(prefix)))
    }
}

#[derive(Debug)]
pub struct Changes {
    pool: PgPool,
    started: Once,
    /// Every change, for streams of several lines.
    sender: broadcast::Sender<Changed>,
    /// The changes that may concern a line, for the streams of that line; a line's sender goes once its
    /// last stream has.
    of_lines: Mutex<HashMap<String, broadcast::Sender<Changed>>>,
    seen: Mutex<Seen>,
}

/// How many changes a stream may fall behind before it is told it lagged (it then reads the statuses
/// again, so it misses nothing but the intermediate ones).
const BEHIND: usize = 1024;
const BEHIND_ON_A_LINE: usize = 64;

#[derive(Debug, Default)]
struct Seen {
    listening: bool,
    /// Counts the notifications and the losses of the connection.
    counter: u64,
    /// The counter when a notification last named each line.
    lines: HashMap<String, u64>,
    /// The counter when every line last may have changed.
    every_line: u64,
    /// Each read model's position as last announced.
    positions: BTreeMap<String, i64>,
}

impl Changes {
    /// Follows the notifications from the first call of [`Self::subscribe`], [`Self::subscribe_to_line`]
    /// or [`Self::of_line`] on, in the runtime of that call.
    pub fn new(pool: PgPool) -> Arc<Self> {
        let (sender, _) = broadcast::channel(BEHIND);
        Arc::new(Self { pool, started: Once::new(), sender, of_lines: Mutex::default(), seen: Mutex::default() })
    }

    fn start(self: &Arc<Self>) {
        self.started.call_once(|| {
            tokio::spawn(follow(Arc::downgrade(self), self.pool.clone()));
        });
    }

    /// Every change.
    pub fn subscribe(self: &Arc<Self>) -> broadcast::Receiver<Changed> {
        self.start();
        self.sender.subscribe()
    }

    /// The changes that name `line`, or every line.
    pub fn subscribe_to_line(self: &Arc<Self>, line: &str) -> broadcast::Receiver<Changed> {
        self.start();
        let mut of_lines = lock(&self.of_lines);
        match of_lines.get(line) {
            Some(sender) => sender.subscribe(),
            None => {
                of_lines.entry(line.to_owned()).or_insert_with(|| broadcast::channel(BEHIND_ON_A_LINE).0).subscribe()
            }
        }
    }

    /// How many subscriptions are open: one per live stream.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
            + lock(&self.of_lines).values().map(broadcast::Sender::receiver_count).sum::<usize>()
    }

    /// What is known of `line` now: a number that changes whenever its rows may have changed, and each
    /// read model's position as last announced, both from the same moment; `None` while nothing is known.
    pub fn of_line(self: &Arc<Self>, line: &str) -> Option<(u64, BTreeMap<String, i64>)> {
        self.start();
        let seen = self.seen();
        let version = seen.lines.get(line).copied().unwrap_or_default().max(seen.every_line);
        seen.listening.then(|| (version, seen.positions.clone()))
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        lock(&self.seen)
    }

    /// Tells the streams of every line, or of the lines `changed` names, and the streams of several lines.
    fn send(&self, changed: Changed) {
        {
            let mut of_lines = lock(&self.of_lines);
            match &changed.0 {
                Some(lines) => {
                    for line in lines.iter() {
                        if of_lines.get(line).is_some_and(|sender| sender.send(changed.clone()).is_err()) {
                            of_lines.remove(line);
                        }
                    }
                }
                None => of_lines.retain(|_, sender| sender.send(changed.clone()).is_ok()),
            }
        }
        // No subscriber left is not an error: the next one subscribes to this sender.
        let _ = self.sender.send(changed);
    }

    fn record(&self, committed: Option<Committed>) {
        let changed = {
            let mut seen = self.seen();
            seen.counter += 1;
            let counter = seen.counter;
            match committed {
                Some(Committed { projection, position, lines: Some(lines) }) => {
                    seen.positions.insert(projection, position);
                    for line in &lines {
                        seen.lines.insert(line.clone(), counter);
                    }
                    Changed(Some(lines.into()))
                }
                Some(Committed { projection, position, lines: None }) => {
                    seen.positions.insert(projection, position);
                    seen.every_line = counter;
                    Changed::EVERY_LINE
                }
                // From another version of the service, say: nothing can be assumed.
                None => {
                    seen.every_line = counter;
                    Changed::EVERY_LINE
                }
            }
        };
        self.send(changed);
    }

    fn listening(&self, listening: bool) {
        {
            let mut seen = self.seen();
            seen.counter += 1;
            seen.every_line = seen.counter;
            seen.listening = listening;
        }
        self.send(Changed::EVERY_LINE);
    }
}

/// Listens until the connection drops, then again, for as long as `changes` exists. `try_recv` rather
/// than `recv`: `recv` reconnects silently, and the notifications missed meanwhile would go unnoticed.
async fn follow(changes: Weak<Changes>, pool: PgPool) {
    while changes.strong_count() > 0 {
        match listen(&pool).await {
            Ok(mut listener) => {
                let Some(following) = changes.upgrade() else { return };
                following.listening(true);
                drop(following);
                while let Ok(Some(notification)) = listener.try_recv().await {
                    let Some(following) = changes.upgrade() else { return };
                    following.record(Committed::parse(notification.payload()));
                }
                let Some(following) = changes.upgrade() else { return };
                following.listening(false);
                tracing::warn!("read-model notifications interrupted; reconnecting");
            }
            Err(error) => tracing::warn!(%error, "read-model notifications unavailable; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Nothing done under these locks can panic halfway, so a poisoned lock hides no half-made update.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
