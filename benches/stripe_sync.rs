//! Stripe sync under a rate limit (docs/performance.md): `cargo bench --bench stripe_sync`.
//!
//! Stripe refuses requests beyond its rate limit (100 read requests per second in live mode,
//! 25 in test mode) with HTTP 429; a sync that trips it loses time to retries, and one that
//! stays far below it is needlessly slow. This runs a full `StripeSource::fetch` of a generated
//! Stripe account (20,000 customers by default) against a local server enforcing a strict rate
//! limit of R requests per second, with the source's `rate_limit` set to R as a user would set
//! it, and checks that the sync sustains at least 90 % of what is attainable with no request
//! refused: R, or 3 × 25/s when Stripe's per-resource limit (25 requests per second for each of
//! the three large lists read at once) binds first, as it does at the live-mode 100/s.
//!
//! The server ([`server`]) answers `GET /v1/customers`, `/v1/subscriptions`, `/v1/prices` and
//! `/v1/invoices` with list pages shaped like API version `2025-03-31.basil`, paginated by
//! `limit` (at most 100) and `starting_after`, generated on the fly and deterministically
//! ([`account`]): one active subscription per customer with one item at a monthly or yearly
//! price, six prices (USD and EUR), one paid invoice per customer for its current period. Its
//! limiter is a sliding one-second window: a request is refused (429, Stripe's `rate_limit`
//! error body) when R requests were already accepted in the second before it.
//!
//! Reported per run and as medians: requests, refused (429) requests, the client's retries;
//! while requesting (from the start of the fetch to the last request), the seconds, requests per
//! second and their ratio to R; for the whole fetch (requests, then decoding and mapping), the
//! same and customers per second; the server's and the client's share of a page's round trip;
//! and the MRR total of the fetched data (the generator's figure; the same every run). The
//! benchmark fails (non-zero exit) when a request was refused, the rate while requesting is
//! below 0.90 of the attainable one, or the data is not what the server served.
//!
//! Knobs (environment): `BENCH_STRIPE_CUSTOMERS` (default 20000), `BENCH_RATE` (default 100,
//! Stripe's live-mode limit), `BENCH_TEST_RATE` (default 25, Stripe's test-mode limit, run as a
//! second series; 0 skips it), `BENCH_RUNS` (default 3), `BENCH_STRIPE_LATENCY_MS` (default 0:
//! how long the server waits before answering a page, like Stripe's own response time),
//! `BENCH_VERBOSE=1` (each list's pages and the requests of every second, by list),
//! `BENCH_COMPARE=N` (afterwards, N runs reading the four lists with the shared HTTP client
//! alone, joined in one task and in one task per list as the source does: how the layout bounds
//! the rate).

#![recursion_limit = "256"] // the json! objects of the generated Stripe account are large

#[allow(dead_code)] // this benchmark takes its own knobs: only env_or and median are used
mod common;
#[path = "common/stripe_server.rs"]
mod stripe_server;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use common::{env_or, median};
use cs_pulse::config::Secret;
use cs_pulse::model::{Currency, FxRates};
use cs_pulse::sources::http::{self, RateLimit};
use cs_pulse::sources::stripe::{AccountKey, Settings, StripeSource, RESOURCE_RATE_LIMIT};
use cs_pulse::sources::{FetchRequest, Source, SourceContext};
use indicatif::ProgressBar;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use stripe_server::{account, server};

/// The achieved share of the attainable rate the sync must sustain.
const MIN_RATIO: f64 = 0.90;

/// The large lists a full sync reads at once (customers, subscriptions, invoices).
const LARGE_LISTS: u32 = 3;

/// What a polite client can reach against Stripe at a limit of `rate`: `rate`, or less when
/// Stripe's per-resource limit ([`RESOURCE_RATE_LIMIT`] for each list read at once) binds first.
fn attainable(rate: u32) -> f64 {
    f64::from(rate.min(LARGE_LISTS * RESOURCE_RATE_LIMIT))
}

/// The figures of one fetch.
struct Run {
    /// Requests the server received (accepted and refused).
    requests: u64,
    refused: u64,
    /// The client's retries (`StripeSource::stats`).
    retries: u64,
    /// Requests the server could not serve (a bad parameter, header or path).
    bad: u64,
    /// Seconds of the whole fetch: requests, then decoding and mapping.
    elapsed: f64,
    /// Seconds from the start of the fetch to the last request the server accepted.
    requesting: f64,
    /// Seconds the server spent building and writing each page, on average.
    server_per_page: f64,
    /// Seconds from the server's answer to a page to the request for the next page of the same
    /// list, on average: the client's share of each round trip.
    client_per_page: f64,
    customers: usize,
    mrr: Vec<(String, Decimal)>,
    /// How each list was read.
    lists: Vec<server::ListCounts>,
}

impl Run {
    /// Requests per second while the sync was requesting: what must reach 90 % of R.
    fn rate(&self) -> f64 {
        self.requests as f64 / self.requesting
    }

    /// Requests per second over the whole fetch.
    fn overall_rate(&self) -> f64 {
        self.requests as f64 / self.elapsed
    }
}

fn mrr_text(mrr: &[(String, Decimal)]) -> String {
    mrr.iter()
        .map(|(c, v)| format!("{c} {v}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// One full fetch at `rate` against the server at `base_url`.
async fn run_once(
    shared: &server::Shared,
    base_url: &str,
    rate: u32,
    now: DateTime<Utc>,
) -> Result<Run> {
    let settings = Settings {
        network: http::Settings::new(base_url, RateLimit::per_second(rate)),
        api_key: Secret::from_env_var("BENCH_STRIPE_API_KEY"),
        account_key: AccountKey::CustomerId,
        full_sync_every: chrono::Duration::days(7),
        rate_limit_is_set: true,
    };
    let ctx = SourceContext {
        timezone: chrono_tz::UTC,
        fx: FxRates::new(Currency::USD).with_rate(Currency::EUR, dec!(1.08)),
    };
    let source = StripeSource::with_key("stripe", settings, "rk_live_bench0000000000", ctx)
        .map_err(|e| anyhow::anyhow!("cannot build the Stripe source: {e}"))?;
    let request = FetchRequest {
        now,
        previous: None,
    };
    let progress = ProgressBar::hidden();
    shared.reset(rate);
    let start = Instant::now();
    let fetched = source.fetch(&request, &progress).await;
    let elapsed = start.elapsed().as_secs_f64();
    let counts = shared.counts();
    let fetched = fetched.map_err(|e| {
        anyhow::anyhow!(
            "the fetch failed after {elapsed:.1} s ({} accepted, {} refused, {} bad requests{}): {e}",
            counts.accepted,
            counts.refused,
            counts.bad,
            counts
                .bad_examples
                .first()
                .map(|b| format!(", e.g. {b}"))
                .unwrap_or_default()
        )
    })?;
    let mut usd = Decimal::ZERO;
    let mut eur = Decimal::ZERO;
    for s in &fetched.data.subscriptions {
        if s.end_date.is_none() {
            if s.currency == Currency::USD {
                usd += s.mrr;
            } else if s.currency == Currency::EUR {
                eur += s.mrr;
            }
        }
    }
    Ok(Run {
        requests: counts.accepted + counts.refused,
        refused: counts.refused,
        retries: source.stats().retries,
        bad: counts.bad,
        elapsed,
        requesting: counts.last,
        server_per_page: counts.busy / counts.served.max(1) as f64,
        client_per_page: {
            let gaps: u64 = counts.lists.iter().map(|l| l.pages.saturating_sub(1)).sum();
            counts.lists.iter().map(|l| l.client).sum::<f64>() / gaps.max(1) as f64
        },
        lists: counts.lists,
        customers: fetched.data.accounts().len(),
        mrr: vec![
            ("USD".to_string(), usd.round_dp(2)),
            ("EUR".to_string(), eur.round_dp(2)),
        ],
    })
}

/// One row of the table.
#[allow(clippy::too_many_arguments)]
fn row(
    label: &str,
    requests: f64,
    refused: f64,
    retries: f64,
    requesting: f64,
    rate: f64,
    r: u32,
    elapsed: f64,
    overall: f64,
    customers_per_s: f64,
    server_ms: f64,
    client_ms: f64,
    mrr: &str,
) {
    println!(
        "{label:>4} {requests:>8.0} {refused:>7.0} {retries:>7.0} {requesting:>10.2} {rate:>8.1} {:>6.3} {elapsed:>8.2} {overall:>8.1} {:>6.3} {customers_per_s:>11.0} {server_ms:>9.2} {client_ms:>9.2}  {mrr}",
        rate / f64::from(r),
        overall / f64::from(r),
    );
}

/// How the four lists are read in the comparison ([`compare`]).
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// In one task, joined (as `StripeSource` read them before its lists got a task each).
    Joined,
    /// Each list in its own task (as `StripeSource` reads them).
    Tasks,
}

/// Every page of one list through `client`, each decoded as the source decodes it (the body
/// into the list envelope, in one pass); the number of objects.
async fn page_through(
    client: http::Client,
    path: &'static str,
    params: Vec<(&'static str, String)>,
) -> Result<usize> {
    let mut after: Option<String> = None;
    let mut objects = 0;
    loop {
        let mut query = params.clone();
        query.push(("limit", "100".to_string()));
        if let Some(a) = &after {
            query.push(("starting_after", a.clone()));
        }
        let response = client.get(path, &query).await?;
        let page: cs_pulse::sources::stripe::objects::List =
            serde_json::from_slice(&response.body)?;
        objects += page.data.len();
        after = page
            .data
            .last()
            .and_then(|o| o.get("id"))
            .and_then(|id| id.as_str())
            .map(str::to_string);
        if !page.has_more || after.is_none() {
            return Ok(objects);
        }
    }
}

/// The source's four lists read with the shared HTTP client alone (no mapping), joined in
/// one task or in four tasks: the requests per second while requesting.
async fn compare(
    shared: &server::Shared,
    base_url: &str,
    rate: u32,
    layout: Layout,
    verbose: bool,
) -> Result<f64> {
    let settings = http::Settings::new(base_url, RateLimit::per_second(rate));
    let headers = vec![
        (
            "Authorization".to_string(),
            "Bearer rk_live_bench0000000000".to_string(),
        ),
        ("Stripe-Version".to_string(), server::VERSION.to_string()),
    ];
    let client = http::Client::new("Stripe", &settings, headers)?;
    let lists: Vec<(&'static str, Vec<(&'static str, String)>)> = vec![
        ("/v1/customers", vec![]),
        (
            "/v1/subscriptions",
            vec![
                ("status", "all".to_string()),
                ("expand[]", "data.discounts".to_string()),
                ("expand[]", "data.items.data.discounts".to_string()),
            ],
        ),
        ("/v1/prices", vec![("expand[]", "data.tiers".to_string())]),
        ("/v1/invoices", vec![]),
    ];
    shared.reset(rate);
    match layout {
        Layout::Joined => {
            futures_util::future::try_join_all(
                lists
                    .into_iter()
                    .map(|(path, params)| page_through(client.clone(), path, params)),
            )
            .await?;
        }
        Layout::Tasks => {
            let tasks: Vec<_> = lists
                .into_iter()
                .map(|(path, params)| tokio::spawn(page_through(client.clone(), path, params)))
                .collect();
            for t in tasks {
                t.await??;
            }
        }
    }
    let counts = shared.counts();
    if verbose {
        print_seconds(&counts.lists);
    }
    if counts.refused > 0 || counts.bad > 0 {
        bail!("{} refused and {} bad requests", counts.refused, counts.bad);
    }
    Ok(counts.accepted as f64 / counts.last)
}

/// The pages requested in each second of the run, by list: where the rate fell short.
fn print_seconds(lists: &[server::ListCounts]) {
    let secs = lists
        .iter()
        .flat_map(|l| l.arrivals.iter())
        .fold(0.0f64, |a, &b| a.max(b))
        .floor() as usize
        + 1;
    let mut line = format!("       {:<14}", "second");
    for k in 0..secs {
        line.push_str(&format!("{k:>5}"));
    }
    println!("{line}");
    let mut total = vec![0u32; secs];
    for l in lists.iter().filter(|l| l.pages > 1) {
        let mut counts = vec![0u32; secs];
        for &t in &l.arrivals {
            if let Some(c) = counts.get_mut(t.floor() as usize) {
                *c += 1;
            }
        }
        let mut line = format!("       {:<14}", l.name);
        for (k, c) in counts.iter().enumerate() {
            line.push_str(&format!("{c:>5}"));
            if let Some(t) = total.get_mut(k) {
                *t += c;
            }
        }
        println!("{line}");
    }
    let mut line = format!("       {:<14}", "all lists");
    for c in total {
        line.push_str(&format!("{c:>5}"));
    }
    println!("{line}");
}

/// Runs the series at `rate`, prints its table, and returns the reasons it failed.
fn series(
    rt: &tokio::runtime::Runtime,
    shared: &server::Shared,
    base_url: &str,
    rate: u32,
    runs: usize,
    expected_mrr: &[(String, Decimal)],
    verbose: bool,
) -> Result<Vec<String>> {
    let now = DateTime::<Utc>::from_timestamp(account::NOW, 0).context("bad NOW")?;
    let n = shared.account().n;
    println!();
    println!(
        "R = {rate}/s (server: sliding 1 s window; source: rate_limit = \"{rate}/s\"), {n} customers, {runs} run(s):"
    );
    println!(
        "                                 --- requesting ---------  --- whole fetch ---------",
    );
    println!(
        "{:>4} {:>8} {:>7} {:>7} {:>10} {:>8} {:>6} {:>8} {:>8} {:>6} {:>11} {:>9} {:>9}  MRR",
        "run",
        "requests",
        "refused",
        "retries",
        "seconds",
        "req/s",
        "of R",
        "seconds",
        "req/s",
        "of R",
        "customers/s",
        "server ms",
        "client ms"
    );
    let mut results = Vec::new();
    let mut failures = Vec::new();
    for k in 1..=runs {
        // Let every earlier request leave the server's window.
        std::thread::sleep(Duration::from_millis(1_100));
        let run = match rt.block_on(run_once(shared, base_url, rate, now)) {
            Ok(run) => run,
            Err(e) => {
                println!("{k:>4} failed: {e:#}");
                failures.push(format!("R={rate} run {k}: {e:#}"));
                continue;
            }
        };
        row(
            &k.to_string(),
            run.requests as f64,
            run.refused as f64,
            run.retries as f64,
            run.requesting,
            run.rate(),
            rate,
            run.elapsed,
            run.overall_rate(),
            run.customers as f64 / run.elapsed,
            run.server_per_page * 1e3,
            run.client_per_page * 1e3,
            &mrr_text(&run.mrr),
        );
        if verbose {
            for l in &run.lists {
                println!(
                    "       {:<14} {:>4} pages, requested from {:>5.2} s to {:>5.2} s, {:>6.2} ms server + {:>6.2} ms client per page",
                    l.name,
                    l.pages,
                    l.first,
                    l.last,
                    l.server * 1e3 / l.pages.max(1) as f64,
                    l.client * 1e3 / l.pages.saturating_sub(1).max(1) as f64,
                );
            }
        }
        if verbose {
            print_seconds(&run.lists);
        }
        if run.refused > 0 {
            failures.push(format!(
                "R={rate} run {k}: {} request(s) refused with 429 ({} retries)",
                run.refused, run.retries
            ));
        }
        if run.bad > 0 {
            failures.push(format!(
                "R={rate} run {k}: {} request(s) the server could not serve",
                run.bad
            ));
        }
        if run.customers != n as usize {
            failures.push(format!(
                "R={rate} run {k}: {} accounts fetched, {n} customers served",
                run.customers
            ));
        }
        if run.mrr != expected_mrr {
            failures.push(format!(
                "R={rate} run {k}: MRR {} differs from the generated {}",
                mrr_text(&run.mrr),
                mrr_text(expected_mrr)
            ));
        }
        let ratio = run.rate() / attainable(rate);
        if ratio < MIN_RATIO {
            failures.push(format!(
                "R={rate} run {k}: {:.1} requests/s while requesting is {ratio:.3} of the attainable {}/s, below {MIN_RATIO}",
                run.rate(),
                attainable(rate),
            ));
        }
        results.push(run);
    }
    if !results.is_empty() {
        let med = |f: &dyn Fn(&Run) -> f64| median(&results.iter().map(f).collect::<Vec<_>>());
        row(
            "med",
            med(&|r| r.requests as f64),
            med(&|r| r.refused as f64),
            med(&|r| r.retries as f64),
            med(&|r| r.requesting),
            med(&|r| r.rate()),
            rate,
            med(&|r| r.elapsed),
            med(&|r| r.overall_rate()),
            med(&|r| r.customers as f64 / r.elapsed),
            med(&|r| r.server_per_page * 1e3),
            med(&|r| r.client_per_page * 1e3),
            &mrr_text(expected_mrr),
        );
    }
    Ok(failures)
}

fn main() -> Result<ExitCode> {
    let customers: u32 = env_or("BENCH_STRIPE_CUSTOMERS", 20_000)?;
    let rate: u32 = env_or("BENCH_RATE", 100)?;
    let test_rate: u32 = env_or("BENCH_TEST_RATE", 25)?;
    let runs: usize = env_or("BENCH_RUNS", 3)?;
    let latency: u64 = env_or("BENCH_STRIPE_LATENCY_MS", 0)?;
    let compare_runs: usize = env_or("BENCH_COMPARE", 0)?;
    let verbose: bool = env_or("BENCH_VERBOSE", 0u8)? > 0;
    if customers == 0 || rate == 0 || runs == 0 {
        bail!("BENCH_STRIPE_CUSTOMERS, BENCH_RATE and BENCH_RUNS must be at least 1");
    }

    let shared = std::sync::Arc::new(server::Shared::new(
        customers,
        Duration::from_millis(latency),
    ));
    let expected: Vec<(String, Decimal)> = shared
        .account()
        .mrr()
        .into_iter()
        .map(|(c, v)| (c.to_string(), v))
        .collect();

    // The server runs on its own runtime and thread, the source on another.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("stripe-server")
        .enable_all()
        .build()?;
    let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let router = server::router(shared.clone());
    server_rt.spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("the benchmark's Stripe server stopped: {e}");
        }
    });
    let base_url = format!("http://{addr}");

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "Stripe full sync: {customers} customers ({} requests of 100 objects, plus prices), API {} on {base_url}, {latency} ms server latency",
        3 * customers.div_ceil(100),
        server::VERSION
    );
    println!("expected MRR: {}", mrr_text(&expected));

    let mut failures = series(
        &client_rt, &shared, &base_url, rate, runs, &expected, verbose,
    )?;
    if test_rate > 0 && test_rate != rate {
        failures.extend(series(
            &client_rt, &shared, &base_url, test_rate, runs, &expected, verbose,
        )?);
    }
    if compare_runs > 0 {
        println!();
        println!(
            "The four lists read with the shared HTTP client alone, R = {rate}/s, requests/s while requesting ({compare_runs} runs):"
        );
        for layout in [Layout::Joined, Layout::Tasks] {
            let mut rates = Vec::new();
            for _ in 0..compare_runs {
                std::thread::sleep(Duration::from_millis(1_100));
                rates.push(client_rt.block_on(compare(&shared, &base_url, rate, layout, verbose))?);
            }
            println!(
                "  {:<40} median {:>6.1}/s ({:.3} of R), runs: {}",
                match layout {
                    Layout::Joined => "one task, joined",
                    Layout::Tasks => "one task per list (as StripeSource)",
                },
                median(&rates),
                median(&rates) / f64::from(rate),
                rates
                    .iter()
                    .map(|r| format!("{r:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    println!();
    if failures.is_empty() {
        println!(
            "OK: no request refused, every run at least {:.0} % of min(R, 3 lists x 25/s).",
            MIN_RATIO * 100.0
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("FAILED:");
        for f in &failures {
            println!("  {f}");
        }
        Ok(ExitCode::FAILURE)
    }
}
