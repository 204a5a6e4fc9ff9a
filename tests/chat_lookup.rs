//! The lookup answers (`/kpi`, `/account`, `/at-risk`, `/renewals`, `/scorecard`) on the demo
//! desk, pinned as people read them: for a lead (revenue and act) and a guest (neither) where
//! permissions matter, and for wrong inputs. One test builds the demo workspace once.

mod common;

use common::chat::{demo_desk, demo_now, guest, lead};
use cs_pulse::chat::{parse, Caller, Command, Desk, Reply, Syntax};

/// The reply as text, with its visibility; the sync time (the wall clock when the test ran) is
/// replaced by a placeholder.
fn text(reply: &Reply, synced: &str) -> String {
    let visibility = if reply.ephemeral {
        "ephemeral"
    } else {
        "public"
    };
    format!("[{visibility}]\n{}", reply.message.to_text()).replace(synced, "<synced>")
}

async fn ask(desk: &Desk, caller: &Caller, name: &str, options: &[(&str, &str)]) -> Reply {
    let options = options
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let command: Command = parse(name, &options).expect("the command parses");
    desk.answer(caller, &command, demo_now()).await
}

#[tokio::test]
async fn lookups_on_the_demo_desk() {
    let (_dir, desk) = demo_desk().await;
    let synced = desk
        .data
        .get()
        .await
        .expect("demo data")
        .synced_at
        .expect("synced")
        .format("%Y-%m-%d %H:%M UTC")
        .to_string();
    let lead = lead(Syntax::Discord);
    let guest = guest(Syntax::Slack);

    // /kpi: a revenue metric for the lead (private), a voice metric for anyone (public), with
    // filters, a period in progress, a null value, and wrong inputs.
    let r = ask(&desk, &lead, "kpi", &[("metric", "nrr")]).await;
    assert!(r.ephemeral);
    insta::assert_snapshot!("kpi_nrr_lead", text(&r, &synced));
    let r = ask(&desk, &guest, "kpi", &[("metric", "nrr")]).await;
    insta::assert_snapshot!("kpi_nrr_guest", text(&r, &synced));
    let r = ask(
        &desk,
        &lead,
        "kpi",
        &[("metric", "mrr"), ("period", "2025-Q1"), ("segment", "smb")],
    )
    .await;
    insta::assert_snapshot!("kpi_mrr_segment_quarter", text(&r, &synced));
    let r = ask(
        &desk,
        &guest,
        "kpi",
        &[("metric", "nps"), ("owner", "Aisha Okafor")],
    )
    .await;
    assert!(!r.ephemeral);
    insta::assert_snapshot!("kpi_nps_owner_guest", text(&r, &synced));
    let r = ask(
        &desk,
        &guest,
        "kpi",
        &[("metric", "dau"), ("period", "2025-06")],
    )
    .await;
    insta::assert_snapshot!("kpi_dau_in_progress", text(&r, &synced));
    let r = ask(
        &desk,
        &guest,
        "kpi",
        &[
            ("metric", "ces"),
            ("period", "2025-W24"),
            ("segment", "Enterprise"),
        ],
    )
    .await;
    insta::assert_snapshot!("kpi_null_value", text(&r, &synced));
    let r = ask(
        &desk,
        &guest,
        "kpi",
        &[("metric", "csat"), ("segment", "Enterprize")],
    )
    .await;
    assert!(r.ephemeral);
    insta::assert_snapshot!("kpi_unknown_segment", text(&r, &synced));
    let r = ask(
        &desk,
        &guest,
        "kpi",
        &[("metric", "csat"), ("owner", "Sofia")],
    )
    .await;
    insta::assert_snapshot!("kpi_unknown_owner", text(&r, &synced));
    let r = ask(&desk, &guest, "kpi", &[("metric", "health")]).await;
    insta::assert_snapshot!("kpi_per_account_metric", text(&r, &synced));

    // /account: by id, by name in any case, and a near miss.
    let r = ask(&desk, &lead, "account", &[("account", "acc-00002")]).await;
    assert!(r.ephemeral && r.message.actions.is_empty() && r.message.image.is_none());
    insta::assert_snapshot!("account_lead", text(&r, &synced));
    let discord = cs_pulse::notify::discord::render(&r.message, &Default::default());
    let json = serde_json::to_string_pretty(&discord)
        .expect("json")
        .replace(&synced, "<synced>");
    insta::assert_snapshot!("account_lead_discord", json);
    let r = ask(&desk, &guest, "account", &[("account", "INITECH MEDIA 2")]).await;
    assert!(!r.ephemeral);
    insta::assert_snapshot!("account_guest", text(&r, &synced));
    let firing = firing_account(&desk).await;
    let r = ask(&desk, &lead, "account", &[("account", &firing)]).await;
    insta::assert_snapshot!("account_with_alerts", text(&r, &synced));
    let r = ask(&desk, &guest, "account", &[("account", "initech")]).await;
    assert!(r.ephemeral);
    insta::assert_snapshot!("account_unknown", text(&r, &synced));
    let r = ask(&desk, &guest, "account", &[("account", "zzzz")]).await;
    insta::assert_snapshot!("account_unknown_far", text(&r, &synced));

    // /at-risk and /renewals, with and without revenue.
    let r = ask(&desk, &lead, "at-risk", &[]).await;
    insta::assert_snapshot!("at_risk_lead", text(&r, &synced));
    let r = ask(&desk, &guest, "at-risk", &[("segment", "SMB")]).await;
    insta::assert_snapshot!("at_risk_guest_smb", text(&r, &synced));
    let r = ask(&desk, &guest, "at-risk", &[("owner", "Nobody Here")]).await;
    insta::assert_snapshot!("at_risk_unknown_owner", text(&r, &synced));
    let r = ask(&desk, &lead, "renewals", &[]).await;
    insta::assert_snapshot!("renewals_lead", text(&r, &synced));
    let r = ask(&desk, &guest, "renewals", &[("days", "366")]).await;
    insta::assert_snapshot!("renewals_guest_year", text(&r, &synced));

    // /scorecard: the lead gets the first scorecard without its chart; the guest is refused.
    let r = ask(&desk, &lead, "scorecard", &[]).await;
    assert!(r.ephemeral && r.message.image.is_none());
    insta::assert_snapshot!("scorecard_lead", text(&r, &synced));
    let r = ask(&desk, &lead, "scorecard", &[("period", "2025-05")]).await;
    insta::assert_snapshot!("scorecard_lead_month", text(&r, &synced));
    let r = ask(&desk, &lead, "scorecard", &[("period", "2025-Q1")]).await;
    insta::assert_snapshot!("scorecard_wrong_kind", text(&r, &synced));
    let r = ask(&desk, &guest, "scorecard", &[]).await;
    insta::assert_snapshot!("scorecard_guest", text(&r, &synced));
}

/// The account with the most firing alerts in the evaluated demo store (the first by id on a tie).
async fn firing_account(desk: &Desk) -> String {
    use cs_pulse::store::AlertStore;
    let states = desk.store.alert_states().await.expect("states");
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for (k, s) in &states {
        if s.phase == cs_pulse::alerts::Phase::Firing && k.subject != "portfolio" {
            *counts.entry(k.subject.clone()).or_default() += 1;
        }
    }
    let most = counts
        .values()
        .copied()
        .max()
        .expect("the demo has firing account alerts");
    counts
        .into_iter()
        .find(|(_, n)| *n == most)
        .map(|(a, _)| a)
        .expect("an account")
}
