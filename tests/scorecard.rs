//! The KPI scorecard: its definitions (the shipped file validates; broken files get every error
//! at once), the computation against hand-computed expectations, the chart (series pinned, PNG
//! dimensions read from its header, no panic without data), the chat message and terminal text
//! on the demo data (snapshots), and `cs-pulse scorecard --dry-run --out DIR` end to end.

mod common;

use std::path::Path;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use common::cli::{cs_pulse, stdout_of, synced_workspace};
use common::demo::{demo, demo_engine};
use common::{acct, d, p, Ds};
use cs_pulse::metrics::{Engine, HealthModels, MetricId, MetricsConfig};
use cs_pulse::model::{Dataset, SurveyKind};
use cs_pulse::scorecard::chart::{self, png_size};
use cs_pulse::scorecard::config::parse_target;
use cs_pulse::scorecard::{
    compute, compute_for, parse_scorecards, shipped_scorecards, to_message, to_text, Cmp,
    ScorecardDef, Status, Target,
};

fn console() -> Vec<String> {
    vec!["console".to_string()]
}

fn parse(src: &str) -> Vec<ScorecardDef> {
    parse_scorecards(src, Path::new("scorecard.toml"), &console()).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(src: &str) -> String {
    match parse_scorecards(src, Path::new("scorecard.toml"), &console()) {
        Ok(_) => panic!("expected errors"),
        Err(d) => d.render(),
    }
}

// ---------------------------------------------------------------------------------------------
// Definitions

#[test]
fn the_shipped_scorecards_are_valid() {
    let defs = shipped_scorecards(&console()).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = defs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["leadership", "leadership-monthly", "csm-book"]);
    assert!(defs.iter().any(|d| d.per_owner));
    assert!(defs.iter().all(|d| d.route == console()));
    let lead = &defs[0];
    assert_eq!(lead.chart, [MetricId::Mrr]);
    assert_eq!(
        lead.target_of(MetricId::LogoChurnRate),
        Some(Target {
            cmp: Cmp::AtMost,
            value: dec!(0.005)
        })
    );
    // The file on disk is the one built in.
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/scorecard.toml"))
            .expect("rules/scorecard.toml");
    assert_eq!(on_disk, cs_pulse::scorecard::SHIPPED);
}

#[test]
fn defaults_apply() {
    let defs = parse(
        r#"
[[scorecard]]
id = "lead"
name = "Lead"
route = ["console"]
period = "month"
kpis = [{ metric = "nrr", target = "≥ 1.05" }, { metric = "mrr" }]
"#,
    );
    let def = &defs[0];
    assert_eq!(def.chart, [MetricId::Nrr]);
    assert_eq!(def.at_risk, 5);
    assert_eq!(def.renewal_days, 60);
    assert!(!def.per_owner);
    assert_eq!(def.segment, None);
    assert_eq!(def.kpis[1].target, None);
    assert_eq!(def.file, "scorecard.toml");
}

#[test]
fn targets_parse_in_the_metrics_unit() {
    let t = |s: &str| parse_target(s).map_err(|(m, h)| format!("{m} / {h}"));
    assert_eq!(
        t(">= 1.05"),
        Ok(Target {
            cmp: Cmp::AtLeast,
            value: dec!(1.05)
        })
    );
    assert_eq!(
        t("<0.02"),
        Ok(Target {
            cmp: Cmp::Below,
            value: dec!(0.02)
        })
    );
    assert_eq!(
        t(" > -5 "),
        Ok(Target {
            cmp: Cmp::Above,
            value: dec!(-5)
        })
    );
    assert!(t("1.05").unwrap_err().contains("\">= 1.05\""));
    assert!(t(">= 105%").unwrap_err().contains("\">= 1.05\""));
    assert!(t("=> 1").is_err());
    assert!(t(">== 1").is_err());
    assert!(t(">= lots").is_err());
    let at_least = Target {
        cmp: Cmp::AtLeast,
        value: dec!(1),
    };
    assert!(at_least.met_by(dec!(1)) && !at_least.met_by(dec!(0.99)));
    let below = Target {
        cmp: Cmp::Below,
        value: dec!(1),
    };
    assert!(!below.met_by(dec!(1)) && below.met_by(dec!(0.99)));
}

#[test]
fn every_error_at_once() {
    let out = errors(
        r#"
[[scorecard]]
id = "Lead Ership"
route = ["consle"]
period = "weekly"
kpis = [
  { metric = "nrrr", target = ">= 1.05" },
  { metric = "grr", target = "0.9" },
  { metric = "nps", target = 30 },
  { metric = "logo_churn_rate", target = ">= 2%" },
  { metric = "health" },
  { metric = "mrr.change" },
  { metric = "nrr", target = ">= 105" },
  { target = "> 1" },
]
chart = ["mrr", "nrr"]
at_risk = 100
renewal_days = -1

[[scorecard]]
id = "owners"
name = ""
route = []
period = "month"
kpis = []
segment = ""

[[scorecard]]
id = "owners"
name = "Again"
route = ["console", "console"]
period = "month"
kpis = [{ metric = "mrr" }, { metric = "mrr" }]
chart = []
"#,
    );
    insta::assert_snapshot!("every_error_at_once", out);
}

#[test]
fn unknown_keys_are_rejected_with_a_suggestion() {
    let out = errors(
        r#"
[[scorecard]]
id = "lead"
name = "Lead"
route = ["console"]
period = "week"
kpis = [{ metric = "mrr" }]
renewals_days = 30
"#,
    );
    assert!(out.contains("unknown key `renewals_days`"), "{out}");
    assert!(out.contains("did you mean `renewal_days`?"), "{out}");
    assert!(out.contains("scorecard.toml:8:1"), "{out}");
    let out = errors("[[scorecard]]\nid = \"a\"\nkpis = [{ metric = \"mrr\", goal = 1 }]\n");
    assert!(out.contains("unknown key `goal`"), "{out}");
    assert!(errors("").contains("defines no scorecard"));
}

// ---------------------------------------------------------------------------------------------
// Computation on a hand-made data set

const SMALL: &str = r#"
[[scorecard]]
id = "lead"
name = "Lead"
route = ["console"]
period = "week"
kpis = [
  { metric = "mrr" },
  { metric = "nrr", target = ">= 1" },
  { metric = "logo_churn_rate", target = "<= 0" },
  { metric = "nps", target = ">= 30" },
  { metric = "csat", target = ">= 80" },
]
at_risk = 1
renewal_days = 30

[[scorecard]]
id = "book"
name = "Book"
route = ["console"]
period = "week"
per_owner = true
kpis = [{ metric = "mrr" }]
"#;

/// Three accounts: `a` (Ana) grows 100 -> 150 in 2025-W24, `b` (Ana) churns 200 in W24, `c`
/// (Ben) starts at 50 in W24. Promoter 10 and detractor 3 in W24.
fn small() -> Dataset {
    let mut ds = Ds::new(vec![
        acct("a").owner("Ana").renewal_date("2025-06-30"),
        acct("b").owner("Ana").renewal_date("2025-08-30"),
        acct("c").owner("Ben").renewal_date("2025-06-01"),
    ]);
    ds.sub("a", dec!(100), "2025-01-01..2025-06-11")
        .sub("a", dec!(150), "2025-06-11..")
        .sub("b", dec!(200), "2025-01-01..2025-06-13")
        .sub("c", dec!(50), "2025-06-10..")
        .survey("a", SurveyKind::Nps, 10, "2025-06-10")
        .survey("b", SurveyKind::Nps, 3, "2025-06-12")
        .survey("a", SurveyKind::Nps, 9, "2025-06-03");
    ds.ds
}

fn engine(ds: &Dataset) -> Engine<'_> {
    Engine::new(ds, MetricsConfig::default())
        .expect("engine")
        .with_health(HealthModels::builtin())
}

#[test]
fn kpis_changes_and_targets_are_exact() {
    let ds = small();
    let e = engine(&ds);
    let defs = parse(SMALL);
    let week = p("2025-W24"); // 2025-06-09 .. 2025-06-15
    let cards = compute(&e, &defs[0], week, d("2025-06-16"));
    assert_eq!(cards.len(), 1);
    let c = &cards[0];
    assert_eq!(c.previous, p("2025-W23"));
    assert_eq!(c.accounts, 3);
    let k = |m: MetricId| c.kpis.iter().find(|k| k.metric == m).expect("kpi");
    // MRR: 150 + 50 closing; 300 opening.
    let mrr = k(MetricId::Mrr);
    assert_eq!(mrr.value, Some(dec!(200)));
    assert_eq!(mrr.previous, Some(dec!(300)));
    assert_eq!(mrr.change, Some(dec!(-100)));
    assert_eq!(mrr.change_pct, Some(dec!(-0.3333333333333333333333333333)));
    assert_eq!(mrr.status, Status::NoTarget);
    // NRR: cohort {a, b} opening 300, closing 150: 0.5, below 1.
    let nrr = k(MetricId::Nrr);
    assert_eq!(nrr.value, Some(dec!(0.5)));
    assert_eq!(nrr.previous, Some(dec!(1)));
    assert_eq!(nrr.status, Status::OffTrack);
    // Logo churn: 1 of 2.
    assert_eq!(k(MetricId::LogoChurnRate).value, Some(dec!(0.5)));
    assert_eq!(k(MetricId::LogoChurnRate).status, Status::OffTrack);
    // NPS: one promoter, one detractor: 0; previous week one promoter: 100.
    let nps = k(MetricId::Nps);
    assert_eq!(nps.value, Some(dec!(0)));
    assert_eq!(nps.previous, Some(dec!(100)));
    assert_eq!(nps.change, Some(dec!(-100)));
    assert_eq!(nps.status, Status::OffTrack);
    // No CSAT answers: no data, never 0.
    let csat = k(MetricId::Csat);
    assert_eq!((csat.value, csat.change), (None, None));
    assert_eq!(csat.status, Status::NoData);
    assert_eq!(c.off_track(), 3);

    // Movements: new 50, expansion 50, churn 200, net -100.
    assert_eq!(c.movements.new, dec!(50));
    assert_eq!(c.movements.expansion, dec!(50));
    assert_eq!(c.movements.churn, dec!(200));
    assert_eq!(c.movements.net(), dec!(-100));

    // Trend: 12 weeks, oldest first, ending with the scorecard's week.
    let t = &c.trend[0];
    assert_eq!(t.metric, MetricId::Mrr);
    assert_eq!(t.points.len(), 12);
    assert_eq!(t.points[0].0, p("2025-W13"));
    assert_eq!(t.points[11], (week, Some(dec!(200))));
    assert_eq!(t.points[10].1, Some(dec!(300)));

    // Renewals within 30 days of 2025-06-16, overdue ones too, soonest first.
    let r: Vec<(&str, i64)> = c.renewals.iter().map(|r| (r.id.as_str(), r.days)).collect();
    assert_eq!(r, [("c", -15), ("a", 14)]);
    assert_eq!(c.renewals[1].mrr, dec!(150));
    assert!(c.at_risk.len() <= 1);
    assert_eq!(c.key(), "lead-2025-W24");
}

#[test]
fn per_owner_scorecards_cover_each_book() {
    let ds = small();
    let e = engine(&ds);
    let defs = parse(SMALL);
    let cards = compute(&e, &defs[1], p("2025-W24"), d("2025-06-16"));
    let owners: Vec<_> = cards.iter().map(|c| c.owner.clone()).collect();
    assert_eq!(owners, [Some("Ana".to_string()), Some("Ben".to_string())]);
    assert_eq!(cards[0].accounts, 2);
    assert_eq!(cards[0].kpis[0].value, Some(dec!(150)));
    assert_eq!(cards[1].kpis[0].value, Some(dec!(50)));
    assert_eq!(cards[1].key(), "book-ben-2025-W24");
    let m = to_message(&cards[0]);
    assert_eq!(m.mentions, ["Ana"]);
    assert!(m.title.contains("Ana"), "{}", m.title);
}

#[test]
fn an_empty_book_and_a_period_without_data_do_not_panic() {
    let ds = small();
    let e = engine(&ds);
    let defs = parse(SMALL);
    // Years before any subscription, an owner with no accounts: nothing to count, no panic.
    let c = compute_for(&e, &defs[0], p("2010-W10"), d("2010-03-15"), Some("Nobody"));
    assert_eq!(c.accounts, 0);
    assert!(c
        .kpis
        .iter()
        .all(|k| k.value.is_none() || k.value == Some(Decimal::ZERO)));
    assert!(c.at_risk.is_empty() && c.renewals.is_empty());
    // Every charted value null: a chart that says "no data".
    let mut nulls = c.clone();
    for t in &mut nulls.trend {
        for point in &mut t.points {
            point.1 = None;
        }
    }
    let chart = chart::render(&nulls).expect("a no-data chart");
    assert_eq!(png_size(&chart.png), Some((chart::WIDTH, chart::HEIGHT)));
    assert!(chart.alt.ends_with("(no data)"), "{}", chart.alt);
    let m = to_message(&c);
    assert!(m.image.is_some());
    assert!(!to_text(&c).is_empty());
    // A scorecard without a chart metric draws an empty "no data" chart too.
    let mut empty = c.clone();
    empty.trend.clear();
    let chart = chart::render(&empty).expect("a no-data chart");
    assert_eq!(png_size(&chart.png), Some((800, 400)));
}

// ---------------------------------------------------------------------------------------------
// The demo data: message and text snapshots

/// The message as JSON with the PNG replaced by its length.
fn message_json(m: &cs_pulse::notify::Message) -> String {
    let mut v = serde_json::to_value(m).expect("json");
    if let Some(img) = v.get_mut("image") {
        let len = m.image.as_ref().map_or(0, |i| i.png.len());
        img["png"] = serde_json::Value::String(format!("<{len} bytes of PNG>"));
    }
    serde_json::to_string_pretty(&v).expect("json")
}

#[test]
fn demo_leadership_scorecard() {
    let e = demo_engine();
    let defs = shipped_scorecards(&console()).expect("shipped");
    let lead = defs
        .iter()
        .find(|d| d.id == "leadership")
        .expect("leadership");
    let cards = compute(&e, lead, p("2025-W24"), d("2025-06-16"));
    assert_eq!(cards.len(), 1);
    let card = &cards[0];

    let m = to_message(card);
    let img = m.image.as_ref().expect("a chart");
    assert_eq!(img.filename, "leadership-2025-W24.png");
    assert_eq!(png_size(&img.png), Some((800, 400)));
    insta::assert_snapshot!("demo_leadership_message", message_json(&m));
    insta::assert_snapshot!("demo_leadership_text", to_text(card));

    let chart = chart::render(card).expect("chart");
    insta::assert_debug_snapshot!("demo_leadership_chart_series", chart.series);
}

#[test]
fn demo_monthly_and_per_owner_scorecards() {
    let e = demo_engine();
    let defs = shipped_scorecards(&console()).expect("shipped");
    let monthly = defs
        .iter()
        .find(|d| d.id == "leadership-monthly")
        .expect("monthly");
    let card = &compute(&e, monthly, p("2025-05"), d("2025-06-01"))[0];
    let chart = chart::render(card).expect("chart");
    // Two series (nrr and grr), each with its target line.
    assert_eq!(chart.series.len(), 2);
    assert!(chart.series.iter().all(|s| s.target.is_some()));
    assert_eq!(png_size(&chart.png), Some((800, 400)));
    insta::assert_snapshot!("demo_monthly_text", to_text(card));

    let book = defs.iter().find(|d| d.id == "csm-book").expect("csm-book");
    let cards = compute(&e, book, p("2025-W24"), d("2025-06-16"));
    assert!(cards.len() > 1, "one card per owner");
    let total: usize = cards.iter().map(|c| c.accounts).sum();
    assert!(total <= demo().accounts().len());
    for c in &cards {
        let m = to_message(c);
        assert_eq!(m.mentions.len(), 1);
        assert_eq!(Some(&m.mentions[0]), c.owner.as_ref());
    }
    insta::assert_snapshot!("demo_owner_message", message_json(&to_message(&cards[0])));
}

// ---------------------------------------------------------------------------------------------
// The command

/// Replaces the sync time (which is the wall clock's) with a placeholder.
fn mask_sync_time(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("data synced ") {
            Some(i) => {
                let rest = &l[i + "data synced ".len()..];
                let after = rest.find(" UTC").map_or("", |j| &rest[j + 4..]);
                format!("{}data synced <time>{after}", &l[..i])
            }
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn scorecard_command_prints_and_writes_charts() {
    let (ws, _) = synced_workspace(12);
    let out_dir = ws.path().join("charts");
    let text = stdout_of(
        cs_pulse()
            .current_dir(ws.path())
            .args(["scorecard", "--dry-run", "--period", "2025-W24", "--out"])
            .arg(&out_dir),
    );
    let text = mask_sync_time(&text.replace(&out_dir.display().to_string(), "OUT"));
    insta::assert_snapshot!("cli_dry_run", text);
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("charts written")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(
        files.contains(&"leadership-2025-W24.png".to_string()),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.starts_with("csm-book-")),
        "{files:?}"
    );
    // The monthly scorecard is not made for a week.
    assert!(!files.iter().any(|f| f.starts_with("leadership-monthly")));
    for f in &files {
        let png = std::fs::read(out_dir.join(f)).expect("png");
        assert_eq!(png_size(&png), Some((800, 400)), "{f}");
    }

    // Without --dry-run: queued and sent through the console channel, once per period.
    let send = || {
        stdout_of(cs_pulse().current_dir(ws.path()).args([
            "scorecard",
            "--period",
            "2025-05",
            "--id",
            "leadership-monthly",
        ]))
    };
    let text = send();
    assert!(
        text.contains("Monthly scorecard — Leadership · 2025-05"),
        "{text}"
    );
    assert!(text.contains("Outbox: 1 queued, 1 sent"), "{text}");
    let again = send();
    assert!(!again.contains("Monthly scorecard"), "{again}");
    assert!(
        again.contains("Outbox: 0 queued, 0 sent, 0 edited, 1 already in the outbox before"),
        "{again}"
    );

    // Wrong arguments are named.
    let out = cs_pulse()
        .current_dir(ws.path())
        .args(["scorecard", "--dry-run", "--id", "nope"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no scorecard \"nope\""), "{err}");
    let out = cs_pulse()
        .current_dir(ws.path())
        .args([
            "scorecard",
            "--dry-run",
            "--id",
            "leadership",
            "--period",
            "2025-05",
        ])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no monthly scorecard"), "{err}");
}
