//! The alert commands from chat (`/alerts`, `/ack`, `/snooze`, the Acknowledge / Snooze / Open
//! buttons), `/help` and autocomplete, on the demo workspace evaluated on 2025-06-18 (so alerts
//! are firing). Replies are pinned as snapshots of their text and ephemeral flag; acks and
//! snoozes are checked in the store too.
//!
//! The workspace is built once (it runs the binary), and the scenarios run in order in one test,
//! since acknowledging and snoozing change what later answers say.

mod common;

use chrono::{DateTime, Utc};

use cs_pulse::alerts::{AlertKey, AlertState, Phase};
use cs_pulse::chat::answers::alerts::{firing, AlertView};
use cs_pulse::chat::command::spec;
use cs_pulse::chat::{parse_text, Caller, Command, Desk, ParamKind, Reply, Syntax};
use cs_pulse::notify::{Action, ActionKind};
use cs_pulse::store::AlertStore;

use common::chat::{demo_desk, demo_now, guest, lead};

fn show(r: &Reply) -> String {
    format!("ephemeral: {}\n{}", r.ephemeral, r.message.to_text())
}

async fn ask(desk: &Desk, caller: &Caller, command: Command, now: DateTime<Utc>) -> String {
    show(&desk.answer(caller, &command, now).await)
}

async fn suggestions(desk: &Desk, kind: ParamKind, typed: &str) -> String {
    let choices = desk.complete(kind, typed, demo_now()).await;
    assert!(choices.len() <= 25, "{kind:?} {typed:?}: {}", choices.len());
    for c in &choices {
        assert!(c.name.chars().count() <= 100 && c.value.chars().count() <= 100);
    }
    let mut out = format!("{kind:?} {typed:?}\n");
    for c in choices {
        out += &format!("{} → {}\n", c.name, c.value);
    }
    out
}

fn ack_cmd(alert: &str) -> Command {
    Command::Ack {
        alert: alert.to_string(),
    }
}

/// The firing alerts about accounts (not the portfolio), each subject once, most severe first.
fn account_alerts(all: &[AlertView]) -> Vec<AlertView> {
    let mut seen = std::collections::BTreeSet::new();
    all.iter()
        .filter(|a| a.key.subject != "portfolio" && seen.insert(a.key.subject.clone()))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_commands_help_and_autocomplete_on_the_demo() {
    let (_dir, desk) = demo_desk().await;
    let now = demo_now();
    let discord = lead(Syntax::Discord);
    let slack = lead(Syntax::Slack);

    let all = firing(&desk).await.expect("firing alerts");
    let alerts = account_alerts(&all);
    assert!(alerts.len() >= 5, "the demo fires alerts: {}", all.len());
    let (a, b, c, d, e) = (&alerts[0], &alerts[1], &alerts[2], &alerts[3], &alerts[4]);

    // /alerts, before anything changed.
    insta::assert_snapshot!(
        "alerts_list",
        ask(&desk, &discord, Command::Alerts, now).await
    );

    // /help, both platforms, with and without a command.
    let help = |c: Option<&str>| Command::Help {
        command: c.and_then(spec),
    };
    insta::assert_snapshot!("help_discord", ask(&desk, &discord, help(None), now).await);
    insta::assert_snapshot!("help_slack", ask(&desk, &slack, help(None), now).await);
    insta::assert_snapshot!(
        "help_snooze_discord",
        ask(&desk, &discord, help(Some("snooze")), now).await
    );
    insta::assert_snapshot!(
        "help_snooze_slack",
        ask(&desk, &slack, help(Some("snooze")), now).await
    );
    insta::assert_snapshot!(
        "help_alerts_slack",
        ask(&desk, &slack, help(Some("alerts")), now).await
    );

    // Autocomplete, every kind.
    let first_name = a.subject_name.clone();
    let prefix: String = first_name
        .chars()
        .take(3)
        .collect::<String>()
        .to_lowercase();
    let mut lists = String::new();
    for (kind, typed) in [
        (ParamKind::Metric, "churn"),
        (ParamKind::Metric, "NR"),
        (ParamKind::Account, prefix.as_str()),
        (ParamKind::Account, "zzzz"),
        (ParamKind::Alert, ""),
        (ParamKind::Alert, "health"),
        (ParamKind::AlertOrAccount, prefix.as_str()),
        (ParamKind::Segment, ""),
        (ParamKind::Owner, ""),
        (ParamKind::Command, "s"),
        (ParamKind::Period, ""),
        (ParamKind::Period, "2025-q1"),
        (ParamKind::Period, "quarter"),
        (ParamKind::Days, "3"),
        (ParamKind::Duration, "7"),
        (ParamKind::Text, "x"),
    ] {
        lists += &suggestions(&desk, kind, typed).await;
        lists += "\n";
    }
    insta::assert_snapshot!("autocomplete", lists);

    // A guest may neither acknowledge nor snooze; the desk refuses before answering.
    insta::assert_snapshot!(
        "ack_refused_for_guest",
        ask(&desk, &guest(Syntax::Discord), ack_cmd(&a.reference()), now).await
    );
    let pressed = desk
        .press(
            &guest(Syntax::Slack),
            &Action {
                kind: ActionKind::Snooze,
                target: a.reference(),
            },
            now,
        )
        .await;
    insta::assert_snapshot!("snooze_button_refused_for_guest", show(&pressed));
    assert!(desk.store.silences(now, true).await.unwrap().is_empty());

    // /ack failures: an unknown alert, an account instead of an alert.
    insta::assert_snapshot!(
        "ack_unknown",
        ask(&desk, &slack, ack_cmd("health-red:no-such-account"), now).await
    );
    insta::assert_snapshot!(
        "ack_account",
        ask(&desk, &discord, ack_cmd(&a.key.subject), now).await
    );

    // /ack of a firing alert.
    insta::assert_snapshot!(
        "ack_success",
        ask(&desk, &discord, ack_cmd(&a.reference()), now).await
    );
    let states = desk.store.alert_states().await.unwrap();
    let acked = states[&a.key]
        .ack
        .as_ref()
        .expect("acknowledged in the store");
    assert_eq!((acked.by.as_str(), acked.at), ("Lea (discord)", now));
    // Again: already acknowledged, said privately, nothing changes.
    insta::assert_snapshot!(
        "ack_again",
        ask(&desk, &slack, ack_cmd(&a.reference()), now).await
    );

    // The Acknowledge button.
    let pressed = desk
        .press(
            &slack,
            &Action {
                kind: ActionKind::Ack,
                target: b.reference(),
            },
            now,
        )
        .await;
    insta::assert_snapshot!("ack_button", show(&pressed));
    let states = desk.store.alert_states().await.unwrap();
    assert_eq!(
        states[&b.key].ack.as_ref().map(|x| x.by.as_str()),
        Some("Lea (slack)")
    );

    // /snooze of an alert, its subject written as the account's name.
    let target = format!("{}:{}", c.key.rule, c.subject_name.to_uppercase());
    let cmd = parse_text(&format!("snooze \"{target}\" 3d renewal call booked")).expect("parses");
    insta::assert_snapshot!("snooze_alert", ask(&desk, &slack, cmd, now).await);
    // /snooze of an account, by name in another case, with the default reason.
    let cmd = Command::Snooze {
        target: d.subject_name.to_lowercase(),
        duration: chrono::Duration::hours(12),
        reason: None,
    };
    insta::assert_snapshot!("snooze_account", ask(&desk, &discord, cmd, now).await);
    // The Snooze button: seven days.
    let pressed = desk
        .press(
            &discord,
            &Action {
                kind: ActionKind::Snooze,
                target: e.reference(),
            },
            now,
        )
        .await;
    insta::assert_snapshot!("snooze_button", show(&pressed));

    let silences = desk.store.silences(now, false).await.unwrap();
    let found: Vec<String> = silences
        .iter()
        .map(|s| {
            format!(
                "{:?} {:?} for {} by {}: {}",
                s.rule,
                s.subject,
                s.until - now,
                s.created_by,
                s.reason
            )
        })
        .collect();
    let expected = |rule: Option<&str>, subject: &str, d: chrono::Duration, by: &str, why: &str| {
        format!(
            "{:?} {:?} for {d} by {by}: {why}",
            rule.map(str::to_string),
            Some(subject.to_string())
        )
    };
    assert_eq!(
        found,
        vec![
            expected(
                Some(&c.key.rule),
                &c.key.subject,
                chrono::Duration::days(3),
                "Lea (slack)",
                "renewal call booked"
            ),
            expected(
                None,
                &d.key.subject,
                chrono::Duration::hours(12),
                "Lea (discord)",
                "snoozed from chat"
            ),
            expected(
                Some(&e.key.rule),
                &e.key.subject,
                chrono::Duration::days(7),
                "Lea (discord)",
                "snoozed from chat"
            ),
        ]
    );

    // /snooze of something unknown: close matches and an example, privately, nothing stored.
    let typo: String = {
        let mut name: Vec<char> = a.subject_name.chars().collect();
        name.pop();
        name.into_iter().collect()
    };
    let cmd = Command::Snooze {
        target: format!("{typo}x"),
        duration: chrono::Duration::days(7),
        reason: None,
    };
    insta::assert_snapshot!("snooze_unknown", ask(&desk, &discord, cmd, now).await);
    let cmd = Command::Snooze {
        target: a.key.rule.clone(),
        duration: chrono::Duration::days(7),
        reason: None,
    };
    insta::assert_snapshot!("snooze_rule", ask(&desk, &slack, cmd, now).await);
    assert_eq!(desk.store.silences(now, false).await.unwrap().len(), 3);

    // /alerts again: acknowledgements and silences show.
    insta::assert_snapshot!(
        "alerts_list_after",
        ask(&desk, &slack, Command::Alerts, now).await
    );

    // The Open account button answers the presser only (the card itself is /account's).
    let pressed = desk
        .press(
            &guest(Syntax::Discord),
            &Action {
                kind: ActionKind::Open,
                target: a.key.subject.clone(),
            },
            now,
        )
        .await;
    assert!(pressed.ephemeral);
    assert!(!pressed.message.title.contains("not allowed"));

    // Everything still firing: acks and silences don't change phases.
    let states = desk.store.alert_states().await.unwrap();
    for x in [a, b, c, e] {
        assert_eq!(states[&x.key].phase, Phase::Firing);
    }

    // Once everything has resolved: nothing to list, nothing to acknowledge.
    let resolved: Vec<(AlertKey, AlertState)> = states
        .into_iter()
        .filter(|(_, st)| st.phase == Phase::Firing)
        .map(|(k, mut st)| {
            st.phase = Phase::Resolved;
            st.resolved_at = Some(now);
            st.ack = None;
            (k, st)
        })
        .collect();
    desk.store.save_alert_states(&resolved).await.unwrap();
    insta::assert_snapshot!(
        "alerts_list_none_firing",
        ask(&desk, &discord, Command::Alerts, now).await
    );
    insta::assert_snapshot!(
        "ack_resolved",
        ask(&desk, &discord, ack_cmd(&a.reference()), now).await
    );
}
