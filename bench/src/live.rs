//! Live subscribers at scale (docs/dashboard.md, "Live figures"). The service is the release binary
//! (`ms5-floor`, built beside this one) in its own process on a fresh database, with its projectors, so
//! that its memory is its own and not the subscribers'. Its lines each have a shift calendar, an ideal
//! cycle time and a running job; the subscribers follow single lines, spread evenly over them, half as
//! server-sent events and half as WebSocket, all signed in as one team leader. Measured:
//! - memory: the service's resident memory before any stream opens, once the server-sent half is open
//!   and has been idle through a health message, and once the WebSocket half is too;
//! - fan-out: every line gets a production count at a set interval; each subscriber times every count from
//!   just before the command is sent to the arrival of the first status that carries it. The command's
//!   commit, the projection, the notification, the board read and the send are all inside the figure,
//!   as is the client's own receipt on the same two cores;
//! - missed: subscribers that never saw their line's last count (30 s of grace after the load).

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::http::{Http, People, post};
use crate::runner::{Stats, run};

pub struct Live {
    pub lines: usize,
    pub subscribers: usize,
    /// How long the lines get counts.
    pub load: Duration,
    /// How often each line gets a count.
    pub every: Duration,
}

pub struct LiveFigures {
    /// The service's resident memory in KiB: before any stream, with the server-sent half open, with
    /// every stream open, and after the load.
    pub rss_kib: [u64; 4],
    pub server_sent: usize,
    pub websocket: usize,
    /// How long opening every stream took, until each had its first status.
    pub opening: Duration,
    pub commands: Stats,
    /// From each count's command to each subscriber's status carrying it, sorted; the first round apart.
    pub fan_out: Vec<Duration>,
    /// The p99 of each round of counts (one count per line), the first round first.
    pub fan_out_by_round: Vec<Duration>,
    pub messages: u64,
    /// Subscribers that had not seen their line's last count at the end of the grace time.
    pub missed: usize,
    /// Streams that ended or failed before that.
    pub broken: Vec<String>,
}

/// How long after the last count a subscriber may take to see it before it counts as missed.
const GRACE: Duration = Duration::from_secs(30);
/// How long an opened stream is left idle before the service's memory is read: past one health message.
const IDLE: Duration = Duration::from_secs(6);
/// Streams opened at once.
const OPENING_AT_ONCE: usize = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    ServerSent,
    WebSocket,
}

/// When each count of each line was sent: `sent[line][n - 1]` for the line's nth count.
type Sent = Arc<Vec<Mutex<Vec<Instant>>>>;

/// The service in its own process on a fresh database, with lines that each have a shift calendar, an
/// ideal cycle time and a running job.
pub struct Floor {
    pub service: tokio::process::Child,
    pub pid: String,
    pub address: String,
    pub client: reqwest::Client,
    /// A team leader's access token.
    pub leader: String,
    pub http: Arc<Http>,
    pub lines: Vec<String>,
    /// The running job of each line, in the lines' order.
    pub jobs: Vec<String>,
}

/// Starts the service binary on `url` (its bootstrap token in `dir`) and sets up `lines` lines.
pub async fn floor(binary: &Path, url: &str, dir: &Path, lines: usize) -> anyhow::Result<Floor> {
    let (service, address) = start_service(binary, url, dir).await?;
    let pid = service.id().context("the service has no pid")?.to_string();
    let token = std::fs::read_to_string(dir.join("bootstrap-token")).context("reading the bootstrap token")?;
    // Idle connections are dropped before actix's 5 s keep-alive ends them, so that no request is sent
    // on a connection the server is closing at that moment.
    let client = reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(4)).build()?;
    let base = format!("{address}/api/v1");
    let people = People::bootstrap(&client, &base, token.trim()).await?;
    let lines: Vec<String> = (1..=lines).map(|n| format!("bench/hall-{}/L{n:02}", n % 5)).collect();
    eprintln!("configuring {} lines, each with a running job", lines.len());
    for line in &lines {
        configure(&client, &base, &people.engineer, line).await?;
    }
    let leader = people.leader.clone();
    let http = Arc::new(Http::acting_as(client.clone(), base.clone(), people));
    let jobs = crate::workload::job_ids(lines.len());
    for (line, job) in lines.iter().zip(&jobs) {
        http.start_job_on(line, job).await.map_err(anyhow::Error::msg)?;
    }
    let pool = commands::database::application_pool(url, 2).await?;
    crate::caught_up(&pool).await?;
    Ok(Floor { service, pid, address, client, leader, http, lines, jobs })
}

pub async fn measure(server: &str, url: &str, binary: &Path, live: &Live) -> anyhow::Result<LiveFigures> {
    let dir = std::env::temp_dir().join(format!("ms5-bench-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let Floor { mut service, pid, address, client, leader, http, lines, jobs } =
        floor(binary, url, &dir, live.lines).await?;
    tokio::time::sleep(IDLE).await;
    let rss_before = crate::http::rss_kib_of(&pid);

    // One more round than the load holds: the first, right after a CHECKPOINT, pays the full-page writes
    // of every page it touches first and is reported apart.
    let counts = u64::try_from(live.load.as_millis() / live.every.as_millis().max(1))?.max(1) + 1;
    let sent: Sent = Arc::new(lines.iter().map(|_| Mutex::new(Vec::new())).collect());
    let (give_up, giving_up) = watch::channel(false);
    let opening = Instant::now();
    let mut subscribers = Vec::with_capacity(live.subscribers);
    let mut rss_kib = [rss_before, 0, 0, 0];
    let half = live.subscribers / 2;
    for (transport, range, slot) in
        [(Transport::ServerSent, 0..half, 1), (Transport::WebSocket, half..live.subscribers, 2)]
    {
        eprintln!("live: opening {} streams", range.len());
        let (opened, mut first_statuses) = mpsc::unbounded_channel();
        for number in range.clone() {
            let line = number % lines.len();
            let stream = Stream {
                transport,
                client: client.clone(),
                url: format!("{address}/api/v1/live/lines/{}", lines[line]),
                token: leader.clone(),
                line,
                last: i64::try_from(counts)?,
                sent: Arc::clone(&sent),
                opened: opened.clone(),
                giving_up: giving_up.clone(),
            };
            subscribers.push(tokio::spawn(stream.follow()));
            // At most OPENING_AT_ONCE streams wait for their first status at a time.
            if (number + 1 - range.start) % OPENING_AT_ONCE == 0 {
                await_first(&mut first_statuses, OPENING_AT_ONCE).await?;
            }
        }
        await_first(&mut first_statuses, range.len() % OPENING_AT_ONCE).await?;
        tokio::time::sleep(IDLE).await;
        rss_kib[slot] = crate::http::rss_kib_of(&pid);
    }
    let opening = opening.elapsed().saturating_sub(IDLE * 2);

    crate::checkpoint(server).await?;
    eprintln!("live: a count every {:?} on each of {} lines for {:?}", live.every, lines.len(), live.load);
    let jobs = Arc::new(jobs);
    let counting = Arc::clone(&sent);
    // Slow counts may run past the load into the grace time: each subscriber waits for its line's last.
    let commands = run(lines.len(), live.load + GRACE, counts, Some(live.every), move |line, _| {
        let (http, jobs, sent) = (Arc::clone(&http), Arc::clone(&jobs), Arc::clone(&counting));
        async move {
            sent[line].lock().map_err(|_| "poisoned")?.push(Instant::now());
            crate::workload::Target::command(&*http, &jobs[line]).await
        }
    })
    .await;
    tokio::spawn(async move {
        tokio::time::sleep(GRACE).await;
        give_up.send(true).ok();
    });
    let (mut deliveries, mut messages, mut missed, mut broken) = (Vec::new(), 0, 0, Vec::new());
    for subscriber in subscribers {
        match subscriber.await? {
            Ok(seen) => {
                deliveries.extend(seen.latencies);
                messages += seen.messages;
                missed += usize::from(!seen.complete);
            }
            Err(error) => broken.push(error),
        }
    }
    let mut by_round = vec![Vec::new(); usize::try_from(counts)?];
    for (round, latency) in &deliveries {
        if let Some(latencies) = by_round.get_mut(*round) {
            latencies.push(*latency);
        }
    }
    let fan_out_by_round = by_round
        .into_iter()
        .map(|mut latencies| {
            latencies.sort_unstable();
            percentile(&latencies, 0.99)
        })
        .collect();
    let mut fan_out: Vec<Duration> =
        deliveries.into_iter().filter(|(round, _)| *round > 0).map(|(_, latency)| latency).collect();
    fan_out.sort_unstable();
    rss_kib[3] = crate::http::rss_kib_of(&pid);
    service.kill().await.ok();
    std::fs::remove_dir_all(&dir).ok();
    Ok(LiveFigures {
        rss_kib,
        server_sent: half,
        websocket: live.subscribers - half,
        opening,
        commands,
        fan_out,
        fan_out_by_round,
        messages,
        missed,
        broken,
    })
}

/// Starts the service binary on `url`, its bootstrap token in `dir`; returns it and its address.
async fn start_service(binary: &Path, url: &str, dir: &Path) -> anyhow::Result<(tokio::process::Child, String)> {
    let mut child = tokio::process::Command::new(binary)
        .env("DATABASE_URL", url)
        .env_remove("MIGRATION_DATABASE_URL")
        .env("MS5_LISTEN", "127.0.0.1:0")
        .env("MS5_BOOTSTRAP_TOKEN_FILE", dir.join("bootstrap-token"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut log = tokio::io::BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let address = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = log.next_line().await? {
            if let Some(address) = line.strip_prefix("MS5 Floor listening on ") {
                return Ok(address.to_owned());
            }
        }
        anyhow::bail!("the service ended before it listened")
    })
    .await
    .context("the service did not listen within 120 s")??;
    // What it logs later must not fill the pipe and stall it.
    tokio::spawn(async move { while let Ok(Some(_)) = log.next_line().await {} });
    Ok((child, address))
}

/// Registers `line` with shifts every day (a board always has a running shift's OEE to show) and the
/// ideal cycle time of the jobs' product.
async fn configure(client: &reqwest::Client, base: &str, engineer: &str, line: &str) -> anyhow::Result<()> {
    use domain::line::Day;
    let since = chrono::Utc::now() - chrono::Duration::days(2);
    let every_day = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri, Day::Sat, Day::Sun];
    let at = |what: &str| format!("{base}/lines/{line}/{what}");
    let bodies = [
        (format!("{base}/lines"), json!({"line": line, "name": line, "time_zone": "Europe/Berlin"})),
        (at("shift-calendar"), json!({"shifts": crate::reports::calendar(&every_day)?, "effective_from": since})),
        (at("ideal-cycle-times"), json!({"product": "P-1", "ideal_cycle_time_ms": 900, "effective_from": since})),
    ];
    for (url, body) in bodies {
        post(client, url, Some(engineer), &body).await.map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

async fn await_first(first_statuses: &mut mpsc::UnboundedReceiver<()>, count: usize) -> anyhow::Result<()> {
    for _ in 0..count {
        tokio::time::timeout(Duration::from_secs(60), first_statuses.recv())
            .await
            .context("a stream had no status within 60 s")?
            .context("every stream ended")?;
    }
    Ok(())
}

/// One subscriber.
struct Stream {
    transport: Transport,
    client: reqwest::Client,
    url: String,
    token: String,
    line: usize,
    /// The line's last count: once seen, the subscriber is done.
    last: i64,
    sent: Sent,
    opened: mpsc::UnboundedSender<()>,
    giving_up: watch::Receiver<bool>,
}

/// What a subscriber saw.
#[derive(Default)]
struct Seen {
    /// Per count delivered: its round (the nth count of every line), and its latency.
    latencies: Vec<(usize, Duration)>,
    messages: u64,
    good: Option<i64>,
    complete: bool,
}

/// The part of a status message (or of any message) this counts: the running job's good count.
#[derive(Deserialize)]
struct Board {
    #[serde(default)]
    job: Option<Counted>,
}

#[derive(Deserialize)]
struct Counted {
    good: i64,
}

/// A WebSocket text frame.
#[derive(Deserialize)]
struct Frame {
    event: String,
    data: Board,
}

impl Stream {
    /// Reads the stream until the line's last count is seen or the grace time is over.
    async fn follow(mut self) -> Result<Seen, String> {
        let mut seen = Seen::default();
        let mut giving_up = self.giving_up.clone();
        let reading = async {
            match self.transport {
                Transport::ServerSent => self.server_sent(&mut seen).await,
                Transport::WebSocket => self.websocket(&mut seen).await,
            }
        };
        tokio::select! {
            read = reading => read?,
            _ = giving_up.wait_for(|over| *over) => {}
        }
        Ok(seen)
    }

    /// Counts a status; true once the line's last count is in.
    fn status(&mut self, seen: &mut Seen, board: Board) -> bool {
        let arrived = Instant::now();
        seen.messages += 1;
        let good = board.job.map_or(0, |job| job.good);
        match seen.good {
            None => {
                self.opened.send(()).ok();
            }
            Some(before) => {
                let newly = usize::try_from(before).unwrap_or(0)..usize::try_from(good).unwrap_or(0);
                if let Ok(sent) = self.sent[self.line].lock() {
                    let counts = newly.clone().zip(sent.get(newly).unwrap_or_default());
                    seen.latencies.extend(counts.map(|(round, at)| (round, arrived - *at)));
                }
            }
        }
        seen.good = Some(seen.good.unwrap_or(good).max(good));
        seen.complete = good >= self.last;
        seen.complete
    }

    async fn server_sent(&mut self, seen: &mut Seen) -> Result<(), String> {
        let mut response =
            self.client.get(&self.url).bearer_auth(&self.token).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("server-sent events: {status}"));
        }
        let mut buffer = String::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let message: String = buffer.drain(..end + 2).collect();
                let field = |name: &str| message.lines().find_map(|line| line.strip_prefix(name));
                if field("event: ") == Some("line_status") {
                    let board = serde_json::from_str(field("data: ").unwrap_or_default()).map_err(|e| e.to_string())?;
                    if self.status(seen, board) {
                        return Ok(());
                    }
                }
            }
        }
        Err("the server-sent events ended".to_owned())
    }

    async fn websocket(&mut self, seen: &mut Seen) -> Result<(), String> {
        let mut request = self.url.replacen("http", "ws", 1).into_client_request().map_err(|e| e.to_string())?;
        let bearer = format!("Bearer {}", self.token).parse().map_err(|_| "an unusable token")?;
        request.headers_mut().insert("authorization", bearer);
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.map_err(|e| e.to_string())?;
        while let Some(message) = socket.next().await {
            let text = match message.map_err(|e| e.to_string())? {
                tokio_tungstenite::tungstenite::Message::Text(text) => text,
                tokio_tungstenite::tungstenite::Message::Close(_) => break,
                _ => continue,
            };
            let frame: Frame = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if frame.event == "line_status" && self.status(seen, frame.data) {
                socket.close(None).await.ok();
                return Ok(());
            }
        }
        Err("the WebSocket ended".to_owned())
    }
}

pub fn print(figures: &LiveFigures, live: &Live) {
    let [before, server_sent, all, after] = figures.rss_kib.map(|kib| kib as f64 / 1024.0);
    let per = |mib: f64, count: usize| mib * 1024.0 / count.max(1) as f64;
    println!(
        "- live: {} subscribers over {} lines ({} server-sent, {} WebSocket), a count every {:?} per line, opened in {:.1} s",
        live.subscribers,
        live.lines,
        figures.server_sent,
        figures.websocket,
        live.every,
        figures.opening.as_secs_f64()
    );
    println!(
        "- service memory: {before:.1} MiB before, {server_sent:.1} MiB with the server-sent streams idle ({:.1} KiB each), {all:.1} MiB with all idle ({:.1} KiB per WebSocket), {after:.1} MiB after the load",
        per(server_sent - before, figures.server_sent),
        per(all - server_sent, figures.websocket),
    );
    let at = |p: f64| percentile(&figures.fan_out, p);
    println!(
        "- counts: {} sent ({:.0}/s, {} failed, p50 {} ms, p99 {} ms); {} statuses received",
        figures.commands.succeeded,
        figures.commands.per_second(),
        figures.commands.failed,
        crate::ms(figures.commands.percentile(0.50)),
        crate::ms(figures.commands.percentile(0.99)),
        figures.messages
    );
    println!(
        "- fan-out, count sent to status received: {} deliveries, p50 {} ms, p99 {} ms, max {} ms (goal p99 < 100 ms); {} subscribers missed their line's last count, {} streams broke",
        figures.fan_out.len(),
        crate::ms(at(0.50)),
        crate::ms(at(0.99)),
        crate::ms(at(1.0)),
        figures.missed,
        figures.broken.len()
    );
    if let Some((first, rounds)) = figures.fan_out_by_round.split_first() {
        let all: Vec<String> = rounds.iter().map(|p99| format!("{:.0}", p99.as_secs_f64() * 1e3)).collect();
        println!(
            "- fan-out p99 per round of counts (ms): {}; the first round, right after a CHECKPOINT, not counted above: {} ms",
            all.join(", "),
            crate::ms(*first)
        );
    }
    for error in figures.broken.iter().take(5) {
        println!("  - {error}");
    }
}

/// The `p` quantile of sorted `latencies`; zero when there are none.
fn percentile(latencies: &[Duration], p: f64) -> Duration {
    let rank = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len().max(1));
    latencies.get(rank - 1).copied().unwrap_or_default()
}
